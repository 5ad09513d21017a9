"""The ``cors`` policy through a real gateway: what the browser (client) and the upstream see."""

from __future__ import annotations

import httpx
import pytest

from gateway.policies.api_key import hash_key
from tests.support.gateway import GatewayProcess
from tests.support.upstream import Upstream

APP = "https://app.example.com"
STRICT = {"allow_origins": [APP], "allow_methods": ["GET", "POST", "PUT"],
          "allow_headers": ["Authorization", "Content-Type"], "expose_headers": ["X-Request-ID"],
          "allow_credentials": True, "max_age": 600}


@pytest.fixture(scope="module")
def stack():
    upstream = Upstream("cors").start()
    config = {
        "upstreams": {"u": {"targets": [upstream.url]}},
        "routes": [
            {"name": "strict", "match": {"path_prefix": "/flaky/strict"}, "upstream": "u",
             "policies": [{"cors": STRICT}]},
            {"name": "any", "match": {"path_prefix": "/flaky/any"}, "upstream": "u",
             "policies": [{"cors": {"allow_origins": "*", "allow_headers": ["*"]}}]},
            {"name": "auth", "match": {"path_prefix": "/flaky/auth"}, "upstream": "u",
             "policies": [{"cors": STRICT}, {"api_key": {}}]},
        ],
        "consumers": [{"name": "a", "api_keys": [hash_key("secret-key-1234567")]}],
    }
    with GatewayProcess(config) as gw, httpx.Client(base_url=gw.url) as client:
        yield client, upstream
    upstream.stop()


def preflight(client, path, origin=APP, method="PUT", headers="authorization, content-type"):
    extra = {"Access-Control-Request-Headers": headers} if headers else {}
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method, **extra})


def hits(upstream) -> int:
    return upstream.behaviour.get("hits", 0)


def test_allowed_preflight_is_answered_by_the_gateway(stack):
    client, upstream = stack
    before = hits(upstream)
    r = preflight(client, "/flaky/strict/x")
    assert r.status_code == 204 and r.content == b""
    assert r.headers["access-control-allow-origin"] == APP
    assert r.headers["access-control-allow-credentials"] == "true"
    assert r.headers["access-control-allow-methods"] == "GET, POST, PUT"
    assert r.headers["access-control-allow-headers"] == "authorization, content-type"
    assert r.headers["access-control-max-age"] == "600"
    assert "Origin" in r.headers.get_list("vary")
    assert hits(upstream) == before


@pytest.mark.parametrize("name,kwargs", [
    ("other origin", {"origin": "https://evil.example"}),
    ("origin differs by scheme", {"origin": "http://app.example.com"}),
    ("origin with a suffix", {"origin": APP + ".evil.example"}),
    ("null origin", {"origin": "null"}),
    ("method not allowed", {"method": "DELETE"}),
    ("header not allowed", {"headers": "x-secret"}),
    ("header is not a token", {"headers": "a b"}),
])
def test_refused_preflight_is_403_problem_without_cors_headers(stack, name, kwargs):
    client, upstream = stack
    before = hits(upstream)
    r = preflight(client, "/flaky/strict/x", **kwargs)
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 403
    assert not [h for h in r.headers if h.startswith("access-control-")]
    assert hits(upstream) == before


def test_simple_request_from_allowed_origin_is_labelled(stack):
    client, upstream = stack
    r = client.get("/flaky/strict/x", headers={"Origin": APP})
    assert r.status_code == 200 and r.text == "cors 200"
    assert r.headers["access-control-allow-origin"] == APP
    assert r.headers["access-control-allow-credentials"] == "true"
    assert r.headers["access-control-expose-headers"] == "X-Request-ID"
    assert "Origin" in r.headers.get_list("vary")


def test_simple_request_from_other_origin_gets_no_cors_headers(stack):
    client, upstream = stack
    r = client.get("/flaky/strict/x", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200
    assert not [h for h in r.headers if h.startswith("access-control-")]
    assert "Origin" in r.headers.get_list("vary")


def test_options_without_request_method_is_not_a_preflight(stack):
    client, upstream = stack
    before = hits(upstream)
    r = client.options("/flaky/strict/x", headers={"Origin": APP})
    assert r.status_code == 200 and hits(upstream) == before + 1


def test_wildcard_origin_without_credentials(stack):
    client, _ = stack
    r = client.get("/flaky/any/x", headers={"Origin": "https://anyone.example"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    r = preflight(client, "/flaky/any/x", origin="https://anyone.example", method="POST", headers="x-anything")
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["access-control-allow-headers"] == "x-anything"


def test_refusal_by_a_later_policy_is_readable_by_the_allowed_origin(stack):
    client, _ = stack
    r = client.get("/flaky/auth/x", headers={"Origin": APP})
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == APP
    ok = client.get("/flaky/auth/x", headers={"Origin": APP, "X-API-Key": "secret-key-1234567"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == APP
