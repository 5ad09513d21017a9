"""The ``ip_filter`` policy through a real gateway (peer address and trusted X-Forwarded-For)."""

from __future__ import annotations

import httpx
import pytest

from gateway.policies.ip_filter import IpFilterConfig, IpFilterPolicy
from gateway.policies.base import Services
from tests.support.gateway import GatewayProcess
from tests.support.upstream import Upstream

ROUTES = [
    ("allow-loopback", {"allow": ["127.0.0.0/8"]}),
    ("deny-loopback", {"deny": ["127.0.0.1"]}),
    ("deny-wins", {"allow": ["127.0.0.0/8"], "deny": ["127.0.0.1/32"]}),
    ("allow-other", {"allow": ["10.0.0.0/8", "2001:db8::/32"]}),
]


@pytest.fixture(scope="module")
def stack():
    upstream = Upstream("ipf").start()
    config = {
        # the test client (127.0.0.1) is a trusted proxy: its X-Forwarded-For names the client
        "gateway": {"trusted_proxies": ["127.0.0.1/32"]},
        "upstreams": {"u": {"targets": [upstream.url]}},
        "routes": [{"name": name, "match": {"path_prefix": f"/flaky/{name}"}, "upstream": "u",
                    "policies": [{"ip_filter": options}]} for name, options in ROUTES],
    }
    with GatewayProcess(config) as gw, httpx.Client(base_url=gw.url) as client:
        yield client, upstream
    upstream.stop()


@pytest.mark.parametrize("route,xff,status", [
    ("allow-loopback", None, 200),
    ("deny-loopback", None, 403),
    ("deny-wins", None, 403),
    ("allow-other", None, 403),
    ("allow-other", "10.1.2.3", 200),
    ("allow-other", "2001:db8::7", 200),
    ("allow-other", "192.0.2.1", 403),
    ("allow-other", "10.1.2.3, 192.0.2.1", 403),  # the rightmost untrusted hop is the client
    ("allow-loopback", "192.0.2.1", 403),
    ("deny-loopback", "192.0.2.1", 200),
])
def test_client_address_decides(stack, route, xff, status):
    client, upstream = stack
    before = upstream.behaviour.get("hits", 0)
    r = client.get(f"/flaky/{route}", headers={"X-Forwarded-For": xff} if xff else {})
    assert r.status_code == status, r.text
    assert upstream.behaviour.get("hits", 0) == before + (status == 200)
    if status == 403:
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == "Your address may not use this route."


@pytest.mark.parametrize("address,allowed", [
    ("10.0.0.1", True), ("::ffff:10.0.0.1", True), ("10.9.9.9", False), ("::ffff:10.9.9.9", False),
    ("2001:db8::1", True), ("2001:db9::1", False), ("", False), ("not-an-ip", False), ("unix:/x", False),
])
def test_address_matching(address, allowed):
    config = IpFilterConfig(allow=["10.0.0.0/8", "2001:db8::/32"], deny=["10.9.0.0/16"])
    policy = IpFilterPolicy(config, route_name="r", services=Services())
    assert policy.permits(address) is allowed
