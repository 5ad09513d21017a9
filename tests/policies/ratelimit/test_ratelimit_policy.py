"""The policy as the gateway calls it: decisions, headers, keys, backend selection."""

from __future__ import annotations

import json
import logging

import pytest

from gateway.policies.base import Services
from gateway.policies.rate_limit import RateLimitConfig, RateLimitPolicy
from gateway.policies.ratelimit import backend as backend_module
from gateway.policies.ratelimit.memory import MemoryBackend
from gateway.policies.ratelimit.redis import RedisBackend


def params(item: str) -> dict[str, str]:
    """'"1m";r=4;t=12' -> {'name': '"1m"', 'r': '4', 't': '12'}"""
    name, *rest = item.strip().split(";")
    return {"name": name, **dict(part.split("=") for part in rest)}


async def test_headers_follow_the_decisions_and_retry_after_is_honest(
    make_policy, decide, ctx_factory, clock
):
    policy = make_policy(MemoryBackend(clock=clock), limits=["5/minute"])
    seen = []
    for _ in range(5):
        ctx = ctx_factory()
        await policy.on_request(ctx)
        headers = dict(ctx.response_headers)
        assert ctx.ratelimit == "allowed"
        assert headers["RateLimit-Policy"] == '"1m";q=5;w=60'
        item = params(headers["RateLimit"])
        assert item["name"] == '"1m"' and int(item["t"]) > 0
        assert headers["X-RateLimit-Remaining"] == item["r"]
        assert headers["X-RateLimit-Limit"] == "5" and int(headers["X-RateLimit-Reset"]) > 0
        seen.append(int(item["r"]))
    assert seen == [4, 3, 2, 1, 0]

    status, headers = await decide(policy)
    assert status == 429
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Retry-After"] == "12"
    assert params(headers["RateLimit"]) == {"name": '"1m"', "r": "0", "t": "12"}
    assert headers["X-RateLimit-Remaining"] == "0" and headers["X-RateLimit-Reset"] == "12"
    assert headers["RateLimit-Policy"] == '"1m";q=5;w=60'

    clock.advance(int(headers["Retry-After"]))
    assert (await decide(policy))[0] == 200
    assert (await decide(policy))[0] == 429


async def test_the_429_body_is_problem_json_and_ctx_says_limited(make_policy, ctx_factory, clock):
    from gateway.errors import TooManyRequests

    policy = make_policy(MemoryBackend(clock=clock), limits=["1/second"])
    await policy.on_request(ctx_factory())
    ctx = ctx_factory()
    with pytest.raises(TooManyRequests) as info:
        await policy.on_request(ctx)
    assert ctx.ratelimit == "limited"
    body = json.loads(info.value.to_response("req-test").content)
    assert body["status"] == 429 and body["request_id"] == "req-test"
    assert "1/second" in body["detail"]
    assert ("Retry-After", "1") in info.value.headers
    assert dict(ctx.response_headers)["RateLimit"].startswith('"1s";r=0')


async def test_several_limits_are_all_advertised_and_the_tightest_is_summarised(
    make_policy, ctx_factory, clock
):
    policy = make_policy(MemoryBackend(clock=clock), limits=["10/second", "3/hour"])
    ctx = ctx_factory()
    await policy.on_request(ctx)
    headers = dict(ctx.response_headers)
    assert headers["RateLimit-Policy"] == '"1s";q=10;w=1, "1h";q=3;w=3600'
    items = [params(item) for item in headers["RateLimit"].split(",")]
    assert [(i["name"], i["r"]) for i in items] == [('"1s"', "9"), ('"1h"', "2")]
    assert headers["X-RateLimit-Limit"] == "3" and headers["X-RateLimit-Remaining"] == "2"


async def test_consumers_have_their_own_quota_and_anonymous_callers_fall_back_to_ip(
    make_policy, decide, clock
):
    policy = make_policy(MemoryBackend(clock=clock), limits=["2/minute"], key="consumer")
    for ip in ("198.51.100.1", "198.51.100.2"):  # one consumer, wherever it comes from
        assert (await decide(policy, consumer="alice", ip=ip))[0] == 200
    assert (await decide(policy, consumer="alice", ip="198.51.100.3"))[0] == 429
    assert (await decide(policy, consumer="bob", ip="198.51.100.1"))[0] == 200
    assert [(await decide(policy, ip="198.51.100.1"))[0] for _ in range(3)] == [200, 200, 429]
    assert (await decide(policy, ip="198.51.100.9"))[0] == 200


async def test_ipv6_clients_are_grouped_by_64(make_policy, decide, clock):
    policy = make_policy(MemoryBackend(clock=clock), limits=["2/minute"], key="ip")
    assert (await decide(policy, ip="2001:db8:1:2::1"))[0] == 200
    assert (await decide(policy, ip="2001:db8:1:2:ffff:ffff:ffff:ffff"))[0] == 200
    assert (await decide(policy, ip="2001:db8:1:2::abcd"))[0] == 429
    assert (await decide(policy, ip="2001:db8:1:3::1"))[0] == 200
    # IPv4-mapped IPv6 is the same client as the IPv4 address
    assert (await decide(policy, ip="192.0.2.5"))[0] == 200
    assert (await decide(policy, ip="::ffff:192.0.2.5"))[0] == 200
    assert (await decide(policy, ip="192.0.2.5"))[0] == 429


async def test_header_keys_and_combinations(make_policy, decide, clock):
    backend = MemoryBackend(clock=clock)
    by_tenant = make_policy(backend, limits=["1/minute"], key="header:X-Tenant")
    assert (await decide(by_tenant, headers={"X-Tenant": "a"}))[0] == 200
    assert (await decide(by_tenant, headers={"x-tenant": "a"}, ip="192.0.2.99"))[0] == 429
    assert (await decide(by_tenant, headers={"X-Tenant": "b"}))[0] == 200
    assert (await decide(by_tenant))[0] == 200  # no header: one shared "missing" bucket
    assert (await decide(by_tenant, ip="192.0.2.99"))[0] == 429

    both = make_policy(
        backend, route="other", limits=["1/minute"], key=["consumer", "header:X-Tenant"]
    )
    assert (await decide(both, consumer="alice", headers={"X-Tenant": "a"}))[0] == 200
    assert (await decide(both, consumer="alice", headers={"X-Tenant": "b"}))[0] == 200
    assert (await decide(both, consumer="alice", headers={"X-Tenant": "a"}))[0] == 429


async def test_route_key_is_shared_by_everyone_on_that_route_only(make_policy, decide, clock):
    backend = MemoryBackend(clock=clock)
    orders = make_policy(backend, route="orders", limits=["2/minute"], key="route")
    inventory = make_policy(backend, route="inventory", limits=["2/minute"], key="route")
    statuses = [(await decide(orders, ip=f"192.0.2.{i}", consumer=c))[0]
                for i, c in [(1, None), (2, "alice"), (3, "bob")]]
    assert statuses == [200, 200, 429]
    assert (await decide(inventory))[0] == 200


async def test_long_or_secret_header_values_never_reach_redis_keys(
    make_policy, make_redis_backend, decide, redis_prefix, redis_admin
):
    secret = "sk_live_" + "x" * 5000
    policy = make_policy(make_redis_backend(), limits=["5/minute"], key="header:X-API-Key")
    assert (await decide(policy, headers={"X-API-Key": secret}))[0] == 200
    keys = [key async for key in redis_admin.scan_iter(match=f"{redis_prefix}:*")]
    assert len(keys) == 1 and len(keys[0]) < 120
    assert b"sk_live" not in keys[0] and b"orders" in keys[0]


async def test_redis_url_selects_one_shared_redis_backend(monkeypatch):
    monkeypatch.setattr(backend_module, "_shared", {})
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    config = RateLimitConfig(limits=["5/minute"])
    a = RateLimitPolicy(config, route_name="a", services=Services())
    b = RateLimitPolicy(config, route_name="b", services=Services())
    assert isinstance(a.backend, RedisBackend) and a.backend is b.backend


async def test_without_redis_url_memory_is_used_with_one_warning(monkeypatch, caplog):
    monkeypatch.setattr(backend_module, "_shared", {})
    monkeypatch.delenv("REDIS_URL", raising=False)
    config = RateLimitConfig(limits=["5/minute"])
    with caplog.at_level(logging.WARNING, logger="gateway.ratelimit"):
        policies = [RateLimitPolicy(config, route_name=f"r{i}", services=Services())
                    for i in range(3)]
    assert all(isinstance(p.backend, MemoryBackend) for p in policies)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "per worker" in warnings[0].getMessage()
