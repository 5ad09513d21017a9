"""The demo end to end: identity, orders, inventory, notifications, their Celery workers and
the gateway (with the demo config, ``gateway/demo/gateway.yaml``) as real processes. A token
from identity (through the gateway) places an order through the gateway; the notification
shows up; the spans of gateway, orders, inventory and notifications share one trace id;
cancelling gives the stock back.

Broker: RabbitMQ on 127.0.0.1:5672 with queue names unique to this run; kombu's filesystem
transport in a temporary folder when RabbitMQ is unreachable (a failure under ``CI=true``)
or with ``E2E_BROKER=filesystem``.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo_services.common.testing import ServiceProcess, start_services
from tests.observability.conftest import FAST_EXPORT, OtlpReceiver
from tests.support.gateway import ROOT, GatewayProcess

pytestmark = pytest.mark.timeout(90)
RABBITMQ = os.environ.get("E2E_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def rabbitmq_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
    except OSError:
        return False
    return True


def broker_env(workdir: Path) -> dict[str, str]:
    run = uuid.uuid4().hex[:8]
    queues = {"NOTIFICATIONS_QUEUE": f"e2e-notifications-{run}",
              "INVENTORY_QUEUE": f"e2e-inventory-{run}"}
    if os.environ.get("E2E_BROKER") != "filesystem" and rabbitmq_reachable():
        return {"CELERY_BROKER_URL": RABBITMQ, **queues}
    if os.environ.get("CI") == "true":
        pytest.fail("RabbitMQ is unreachable under CI=true")
    return {"CELERY_BROKER_URL": "filesystem://", "CELERY_FS_DIR": str(workdir / "broker"),
            **queues}


def tracing_env(receiver: OtlpReceiver) -> dict[str, str]:
    return {**FAST_EXPORT, "OTEL_SDK_DISABLED": "false",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}


def purge(env: dict[str, str]) -> None:
    if not env["CELERY_BROKER_URL"].startswith("amqp"):
        return
    from kombu import Connection

    with Connection(env["CELERY_BROKER_URL"]) as conn:
        for name in (env["NOTIFICATIONS_QUEUE"], env["INVENTORY_QUEUE"]):
            try:
                conn.default_channel.queue_delete(name)
            except Exception:  # noqa: BLE001 - best-effort cleanup
                pass


@pytest.fixture(scope="module")
def stack() -> Iterator[GatewayProcess]:
    """The gateway; ``stack.services`` are the service processes (their logs help failures)."""
    with tempfile.TemporaryDirectory(prefix="demo-e2e-") as tmp:
        workdir = Path(tmp)
        receiver = OtlpReceiver()
        env = {**broker_env(workdir), **tracing_env(receiver)}
        procs: dict[str, ServiceProcess] = {}
        try:
            urls = start_services(env, workdir, procs)
            procs["notifications"].start_worker(env["NOTIFICATIONS_QUEUE"])
            procs["inventory"].start_worker(env["INVENTORY_QUEUE"])
            config = (ROOT / "gateway" / "demo" / "gateway.yaml").read_text()
            with GatewayProcess(config, env={**env, **urls}) as gateway:
                gateway.services = procs  # type: ignore[attr-defined]
                gateway.receiver = receiver  # type: ignore[attr-defined]
                yield gateway
        finally:
            for proc in procs.values():
                proc.stop()
            purge(env)
            receiver.stop()


def eventually(probe: Callable[[], Any], timeout: float = 20.0, logs: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"condition not met in time\n{logs}")


@pytest.fixture(scope="module")
def api(stack: GatewayProcess) -> Iterator[httpx.Client]:
    form = {"grant_type": "password", "username": "demo", "password": "demo-password"}
    token = httpx.post(f"{stack.url}/auth/token", data=form, timeout=10)
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    with httpx.Client(base_url=stack.url, headers=headers, timeout=15) as client:
        yield client


def order(api: httpx.Client, product_id: int, quantity: int) -> httpx.Response:
    return api.post("/api/orders/", json={"items": [{"product_id": product_id,
                                                     "quantity": quantity}]})


def services_in(receiver: OtlpReceiver, trace_id: str) -> set[str]:
    with receiver.lock:
        return {service for service, span in receiver.spans if span.trace_id.hex() == trace_id}


def test_an_order_through_the_gateway_notifies_the_user(api: httpx.Client,
                                                        stack: GatewayProcess) -> None:
    products = api.get("/api/inventory/products/").json()["results"]
    created = order(api, next(p for p in products if p["stock"] >= 2)["id"], 2)
    assert created.status_code == 201, created.text
    placed = created.json()
    assert api.get("/api/orders/").json()["results"][0]["id"] == placed["id"]

    def notified() -> list[dict[str, Any]]:
        results = api.get("/api/notifications/").json()["results"]
        return [n for n in results if n["order_id"] == placed["reference"]]

    assert eventually(notified)[0]["kind"] == "order.created"
    assert "event recorded as failed" not in stack.services["notifications"].logs()
    trace_id = created.headers["traceresponse"].split("-")[1]
    expected = {"gateway", "orders", "inventory", "notifications"}
    eventually(lambda: services_in(stack.receiver, trace_id) >= expected,
               logs=f"services in the trace: {services_in(stack.receiver, trace_id)}")


def test_short_stock_and_cancellation_release(api: httpx.Client, stack: GatewayProcess) -> None:
    def stock_of(pid: int) -> int:
        return int(api.get(f"/api/inventory/products/{pid}/").json()["stock"])

    products = api.get("/api/inventory/products/").json()["results"]
    pid = min((p for p in products if p["stock"] > 0), key=lambda p: p["stock"])["id"]
    before = stock_of(pid)
    short = order(api, pid, before + 1)
    assert short.status_code == 409, short.text
    placed = order(api, pid, 1).json()
    assert stock_of(pid) == before - 1
    assert api.post(f"/api/orders/{placed['id']}/cancel/").status_code == 200
    eventually(lambda: stock_of(pid) == before, logs=stack.services["inventory"].logs())


def test_the_gateway_refuses_missing_tokens(stack: GatewayProcess) -> None:
    assert httpx.get(f"{stack.url}/api/orders/", timeout=10).status_code == 401
