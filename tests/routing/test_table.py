from __future__ import annotations

import pytest

from gateway.errors import MethodNotAllowed, NotFound
from gateway.routing.table import Route, RouteTable

POOL = object()


def route(name, prefix, methods=None, hosts=(), headers=()):
    return Route(name=name, prefix=prefix, upstream=POOL, methods=frozenset(methods) if methods else None,
                 hosts=tuple(hosts), headers=tuple(headers))


TABLE = RouteTable([
    route("root", "/"),
    route("api", "/api"),
    route("orders", "/api/orders", ["GET", "POST"]),
    route("order-admin", "/api/orders/admin", ["DELETE"]),
    route("v2", "/api/orders", ["GET"], headers=[("x-version", "2")]),
    route("tenant", "/api/orders", ["GET"], hosts=["*.tenant.example"]),
])


def match(path, method="GET", host="gw", headers=None):
    return TABLE.match(path, method, host, headers or {}).name


@pytest.mark.parametrize("path,expected", [
    ("/api/orders", "orders"),
    ("/api/orders/", "orders"),
    ("/api/orders/7", "orders"),
    ("/api/ordersx", "api"),
    ("/api", "api"),
    ("/apix", "root"),
    ("/", "root"),
    ("/api/orders/admin/1", "orders"),  # GET is not allowed on order-admin: falls back
])
def test_longest_prefix_on_segment_boundaries(path, expected):
    assert match(path) == expected


def test_method_specific_longer_route():
    assert match("/api/orders/admin/1", "DELETE") == "order-admin"


def test_header_and_host_constrained_routes_win_at_equal_prefix():
    assert match("/api/orders", headers={"x-version": "2"}) == "v2"
    assert match("/api/orders", host="a.tenant.example") == "tenant"
    assert match("/api/orders", host="tenant.example") == "orders"


def test_method_not_allowed_when_only_other_methods_match():
    table = RouteTable([route("orders", "/api/orders", ["GET"]), route("orders-w", "/api/orders", ["POST"])])
    with pytest.raises(MethodNotAllowed) as caught:
        table.match("/api/orders/1", "PATCH", "gw", {})
    assert caught.value.headers == [("Allow", "GET, POST")]


def test_no_route():
    table = RouteTable([route("orders", "/api/orders")])
    with pytest.raises(NotFound):
        table.match("/api/order", "GET", "gw", {})


def test_upstream_path_after_strip_prefix():
    r = Route(name="r", prefix="/api/orders", upstream=POOL, strip_prefix="/api")
    assert r.upstream_path("/api/orders/7") == "/orders/7"
    r = Route(name="r", prefix="/api/orders", upstream=POOL, strip_prefix="/api/orders")
    assert r.upstream_path("/api/orders") == "/"
    assert r.upstream_path("/api/orders/") == "/"
