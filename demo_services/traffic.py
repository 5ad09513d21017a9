"""Demo traffic through the gateway, so the dashboards fill.

``python -m demo_services.traffic --gateway http://127.0.0.1:8000 --seconds 60`` logs in
(password grant, ``demo``/``demo-password``), then loops over every route: products,
orders (create, list, retrieve, cancel), notifications, plus some 4xx on purpose (bad
token, unknown route, validation error, short stock) and a burst that may be rate
limited. Prints a summary of the statuses seen per call.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

Step = Callable[[httpx.Client], httpx.Response]


class Traffic:
    def __init__(self, gateway: str, username: str, password: str) -> None:
        self.base = gateway.rstrip("/")
        self.form = {"grant_type": "password", "username": username, "password": password}
        self.seen: Counter[tuple[str, int]] = Counter()
        self.client = httpx.Client(base_url=self.base, timeout=10)

    def call(self, label: str, method: str, path: str, **kwargs: object) -> httpx.Response | None:
        try:
            response = self.client.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self.seen[(f"{label} ({type(exc).__name__})", 0)] += 1
            return None
        self.seen[(label, response.status_code)] += 1
        return response

    def login(self) -> None:
        response = self.call("login", "POST", "/auth/token", data=self.form)
        if response is None or response.status_code != 200:
            detail = response.text if response is not None else "no answer"
            raise SystemExit(f"login failed: {detail}")
        self.client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def round(self) -> None:
        products = self.call("list products", "GET", "/api/inventory/products/")
        ok = products is not None and products.is_success
        items = products.json().get("results", []) if ok else []  # type: ignore[union-attr]
        if items:
            product = random.choice(items)
            self.call("get product", "GET", f"/api/inventory/products/{product['id']}/")
            self.order(product)
        self.call("list orders", "GET", "/api/orders/")
        self.call("list notifications", "GET", "/api/notifications/")
        self.mistakes(items)

    def order(self, product: dict) -> None:
        body = {"items": [{"product_id": product["id"], "quantity": random.randint(1, 2)}]}
        created = self.call("create order", "POST", "/api/orders/", json=body)
        if created is None or created.status_code != 201:
            return
        order_id = created.json()["id"]
        self.call("get order", "GET", f"/api/orders/{order_id}/")
        if random.random() < 0.3:
            self.call("cancel order", "POST", f"/api/orders/{order_id}/cancel/")

    def mistakes(self, products: list[dict]) -> None:
        self.call("validation error", "POST", "/api/orders/", json={"items": []})
        if products:
            scarce = min(products, key=lambda p: p["stock"])
            self.call("short stock", "POST", "/api/orders/", json={
                "items": [{"product_id": scarce["id"],
                           "quantity": min(scarce["stock"] + 1, 1000)}]})
        self.call("unknown route", "GET", "/api/nowhere")
        self.call("bad token", "GET", "/api/orders/", headers={"Authorization": "Bearer nope"})

    def burst(self, size: int = 60) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda _: self.call("burst", "GET", "/api/inventory/products/"),
                          range(size)))

    def report(self) -> str:
        width = max((len(label) for label, _ in self.seen), default=10)
        lines = [f"{label:<{width}}  {status or 'error':>5}  {count}"
                 for (label, status), count in sorted(self.seen.items())]
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo-password")
    args = parser.parse_args(argv)
    traffic = Traffic(args.gateway, args.username, args.password)
    traffic.login()
    deadline, rounds = time.monotonic() + args.seconds, 0
    while time.monotonic() < deadline:
        traffic.round()
        rounds += 1
        if rounds % 10 == 1:
            traffic.burst()
        time.sleep(0.2)
    print(traffic.report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
