"""Failures the gateway answers itself, as problem+json, never a stack trace."""

from __future__ import annotations

import time

import httpx
import pytest


def assert_problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]
    assert "Traceback" not in r.text and "127.0.0.1" not in r.text
    return body


def test_no_route_is_404(gateway):
    assert_problem(httpx.get(f"{gateway.url}/nowhere"), 404)


def test_segment_boundary_is_respected(gateway):
    assert_problem(httpx.get(f"{gateway.url}/api/echox"), 404)


def test_method_not_allowed_lists_allowed_methods(gateway):
    r = httpx.post(f"{gateway.url}/api/orders/7", content=b"{}")
    assert_problem(r, 405)
    assert r.headers["allow"] == "GET, HEAD"


def test_longer_prefix_wins(gateway):
    r = httpx.post(f"{gateway.url}/api/orders/special/1", content=b"{}")
    assert r.status_code == 200  # "orders-item" allows POST; "orders-read" does not


def test_upstream_down_is_502(gateway):
    body = assert_problem(httpx.get(f"{gateway.url}/down"), 502)
    assert "127.0.0.1" not in body["detail"]


def test_upstream_timeout_is_504_within_the_read_timeout(gateway):
    started = time.monotonic()
    assert_problem(httpx.get(f"{gateway.url}/raw/slow?seconds=5", timeout=10), 504)
    assert time.monotonic() - started < 4


def test_upstream_closing_the_connection_is_502(gateway):
    assert_problem(httpx.get(f"{gateway.url}/raw/close"), 502)


def test_unsafe_path_is_400(gateway):
    assert_problem(httpx.get(f"{gateway.url}/api/echo/a%2Fb"), 400)


@pytest.mark.parametrize("path", ["/-/nothing", "/-/metricsx"])
def test_reserved_namespace_is_never_proxied(gateway, path):
    assert_problem(httpx.get(gateway.url + path), 404)


def test_health_endpoints(gateway):
    assert httpx.get(f"{gateway.url}/-/health/live").json() == {"status": "ok"}
    ready = httpx.get(f"{gateway.url}/-/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_route_table_is_listed_for_admins(gateway):
    r = httpx.get(f"{gateway.url}/-/routes")
    assert r.status_code == 200
    names = [route["name"] for route in r.json()["routes"]]
    assert names[:2] == ["echo", "orders-read"]
