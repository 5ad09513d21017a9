"""The ``headers`` policy through a real gateway: what the upstream and the client see."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.policies.api_key import hash_key
from tests.support.gateway import GatewayProcess
from tests.support.upstream import Upstream

SECURITY = {"hsts": "max-age=63072000; includeSubDomains", "content_type_options": True,
            "frame_options": "DENY", "referrer_policy": "no-referrer",
            "content_security_policy": "default-src 'none'"}
EDITS = {
    "request": {"set": {"X-Tenant": "acme"}, "add": {"X-Via-Gateway": "1"}, "remove": ["Cookie", "X-Debug"]},
    "response": {"set": {"X-Upstream": "hidden", "Cache-Control": "no-store"}, "add": {"X-Edge": "1"},
                 "remove": ["Content-Type"]},
    "security": SECURITY,
}


@pytest.fixture(scope="module")
def stack():
    upstream = Upstream("hdr").start()
    config = {
        "upstreams": {"u": {"targets": [upstream.url]}},
        "routes": [
            {"name": "edited", "match": {"path_prefix": "/echo"}, "upstream": "u", "policies": [{"headers": EDITS}]},
            {"name": "guarded", "match": {"path_prefix": "/flaky"}, "upstream": "u",
             "policies": [{"headers": {"security": SECURITY}}, {"api_key": {}}]},
        ],
        "consumers": [{"name": "a", "api_keys": [hash_key("secret-key-1234567")]}],
    }
    with GatewayProcess(config) as gw, httpx.Client(base_url=gw.url) as client:
        yield client
    upstream.stop()


def seen_upstream(response) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for name, value in json.loads(response.content)["headers"]:
        seen.setdefault(name.lower(), []).append(value)
    return seen


def test_request_headers_are_edited_upstream(stack):
    r = stack.get("/echo/x", headers={"X-Tenant": "evil", "Cookie": "s=1", "X-Debug": "1", "X-Keep": "k"})
    seen = seen_upstream(r)
    assert seen["x-tenant"] == ["acme"]
    assert seen["x-via-gateway"] == ["1"]
    assert "cookie" not in seen and "x-debug" not in seen
    assert seen["x-keep"] == ["k"]


def test_response_headers_are_edited(stack):
    r = stack.get("/echo/x")
    assert r.headers.get_list("x-upstream") == ["hidden"]
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-edge"] == "1"
    assert "content-type" not in r.headers
    assert "server" not in r.headers


@pytest.mark.parametrize("path,headers,status", [
    ("/echo/x", {}, 200),
    ("/flaky/x", {"X-API-Key": "secret-key-1234567"}, 200),
    ("/flaky/x", {}, 401),  # a refusal by the policy after `headers` carries them too
])
def test_security_headers_on_every_response(stack, path, headers, status):
    r = stack.get(path, headers=headers)
    assert r.status_code == status
    assert r.headers.get_list("strict-transport-security") == ["max-age=63072000; includeSubDomains"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["content-security-policy"] == "default-src 'none'"
