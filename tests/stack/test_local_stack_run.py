"""The README's first command, for real: ``python -m demo_services.stack`` (what ``make
run`` starts) brings up every service and the gateway, a user logs in and orders through
the gateway, the order's notification arrives over the broker-less local broker, the local
Prometheus (when installed) scrapes every process, and SIGTERM stops it all."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from tests.stack.conftest import ROOT
from tests.support.net import free_port

NAMES = ("gateway", "identity", "orders", "inventory", "notifications", "prometheus")


def _poll(check, timeout: float, what: str, proc: subprocess.Popen, log) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the stack exited with {proc.returncode} while waiting for {what}:\n{_tail(log)}")
        try:
            result = check()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}:\n{_tail(log)}")


def _tail(log) -> str:
    log.flush()
    return open(log.name, errors="replace").read()[-4000:]


@pytest.fixture
def stack(tmp_path):
    ports = {name: free_port() for name in NAMES}
    env = {**os.environ, **{f"{n.upper()}_PORT": str(p) for n, p in ports.items()},
           "STACK_RUN_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    for inherited in ("DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL", "REDIS_URL", "GATEWAY_CONFIG"):
        env.pop(inherited, None)
    log = open(tmp_path / "stack.log", "w+b")
    proc = subprocess.Popen([sys.executable, "-m", "demo_services.stack"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    children: list[psutil.Process] = []
    try:
        yield proc, ports, log, children
    finally:
        children.extend(psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else [])
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for child in children:
            if child.is_running():
                child.kill()
        log.close()


def test_local_stack_serves_the_demo_through_the_gateway(stack):
    proc, ports, log, children = stack
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    _poll(lambda: httpx.get(f"{gateway}/-/health/ready", timeout=2).status_code == 200, 120, "the gateway", proc, log)
    login = {"grant_type": "password", "username": "demo", "password": "demo-password"}
    token = _poll(lambda: httpx.post(f"{gateway}/auth/token", data=login, timeout=5).json().get("access_token"),
                  30, "a token from identity", proc, log)
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=gateway, headers=auth, timeout=10) as client:
        products = client.get("/api/inventory/products/")
        assert products.status_code == 200, products.text
        product = next(p for p in products.json()["results"] if p["stock"] > 0)
        order = client.post("/api/orders/", json={"items": [{"product_id": product["id"], "quantity": 1}]})
        assert order.status_code == 201, order.text
        assert any(o["id"] == order.json()["id"] for o in client.get("/api/orders/").json()["results"])
        notes = _poll(lambda: client.get("/api/notifications/").json()["results"], 30,
                      "the order's notification", proc, log)
        assert len(notes) == 1
        assert client.get("/api/orders/", headers={"Authorization": "Bearer nope"}).status_code == 401
    if shutil.which("prometheus"):
        _assert_prometheus_scrapes_everything(ports, proc, log)
    children.extend(psutil.Process(proc.pid).children(recursive=True))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(25) == 0
    time.sleep(0.5)
    assert [c.pid for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []


def _assert_prometheus_scrapes_everything(ports: dict, proc, log) -> None:
    url = f"http://127.0.0.1:{ports['prometheus']}/api/v1/query"

    def all_up():
        series = httpx.get(url, params={"query": "up"}, timeout=2).json()["data"]["result"]
        up = {s["metric"]["instance"] for s in series if s["value"][1] == "1"}
        wanted = {f"127.0.0.1:{ports[n]}" for n in NAMES}
        return wanted <= up

    _poll(all_up, 40, "Prometheus to scrape every process", proc, log)
