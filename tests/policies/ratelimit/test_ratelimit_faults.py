"""Redis failing under the policy: a proxy in front of the real server blackholes or
resets connections; each mode of on_backend_error keeps its promise, the breaker keeps an
outage from costing a timeout per request, and limits apply again once Redis is back.

The 0.5 s bounds below are hang guards (a blackholed call must not wait for redis-py's
5 s default), not performance assertions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest

HANG_GUARD = 0.5


@pytest.fixture
def failing_policy(make_policy, make_redis_backend, proxy, clock, monotonic, ctx_factory, run):
    """A policy on a Redis behind the proxy, warmed up while the proxy still passes."""

    async def make(**options):
        backend = make_redis_backend(
            proxy.url, clock=clock, monotonic=monotonic, breaker_seconds=5, timeout=0.1
        )
        policy = make_policy(backend, **options)
        assert (await run(policy, ctx_factory(ip="192.0.2.200")))[0] == 200
        proxy.mode = "blackhole"
        return policy

    return make


@pytest.fixture
def call(run):
    async def bounded(policy, ctx):
        async with asyncio.timeout(HANG_GUARD):
            return await run(policy, ctx)

    return bounded


async def test_allow_fails_open_without_hanging(call, failing_policy, ctx_factory):
    policy = await failing_policy(limits=["1/minute"], on_backend_error="allow", timeout_ms=50)
    for _ in range(5):
        ctx = ctx_factory()
        status, headers = await call(policy, ctx)
        assert status == 200 and ctx.ratelimit == "backend_error"
        assert "RateLimit" not in headers and "Retry-After" not in headers


async def test_deny_answers_503_problem_json(call, failing_policy, ctx_factory):
    policy = await failing_policy(limits=["100/minute"], on_backend_error="deny")
    for _ in range(3):
        ctx = ctx_factory()
        status, headers = await call(policy, ctx)
        assert status == 503 and ctx.ratelimit == "backend_error"
        assert headers["Content-Type"] == "application/problem+json"
        assert headers["Retry-After"] == "1"


async def test_deny_body_names_no_internal_detail(failing_policy, ctx_factory):
    from gateway.errors import ServiceUnavailable

    policy = await failing_policy(limits=["100/minute"], on_backend_error="deny")
    with pytest.raises(ServiceUnavailable) as info:
        async with asyncio.timeout(HANG_GUARD):
            await policy.on_request(ctx_factory())
    body = json.loads(info.value.to_response().content)
    assert body["status"] == 503 and "127.0.0.1" not in body["detail"]


@pytest.mark.parametrize(("workers_option", "env", "share"), [(4, None, 5), (None, "2", 10)])
async def test_local_enforces_each_workers_share(
    call, failing_policy, ctx_factory, monkeypatch, workers_option, env, share
):
    if env:
        monkeypatch.setenv("GATEWAY_WORKERS", env)
    policy = await failing_policy(
        limits=["20/second"], on_backend_error="local", workers=workers_option
    )
    results = []
    for _ in range(share + 3):
        ctx = ctx_factory()
        results.append((await call(policy, ctx))[0])
        assert ctx.ratelimit == "backend_error"
    assert results == [200] * share + [429] * 3
    _, headers = await call(policy, ctx_factory())
    assert headers["X-RateLimit-Limit"] == str(share) and "Retry-After" in headers


async def test_the_breaker_spares_a_timeout_per_request_then_recovers(
    call, failing_policy, ctx_factory, proxy, monotonic, caplog
):
    policy = await failing_policy(limits=["3/second"], on_backend_error="allow")
    with caplog.at_level(logging.WARNING, logger="gateway.ratelimit"):
        assert (await call(policy, ctx_factory()))[0] == 200  # this one waits its timeout
        sent, connections = len(proxy.commands.names), proxy.connections
        for _ in range(20):
            ctx = ctx_factory()
            assert (await call(policy, ctx))[0] == 200 and ctx.ratelimit == "backend_error"
        assert (len(proxy.commands.names), proxy.connections) == (sent, connections)
        assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1

        proxy.mode = "pass"
        monotonic.advance(5)  # the breaker lets one probe through
        outcomes = []
        for _ in range(4):
            ctx = ctx_factory()
            outcomes.append(((await call(policy, ctx))[0], ctx.ratelimit))
    assert outcomes == [(200, "allowed")] * 3 + [(429, "limited")]
    assert any("reachable again" in r.getMessage() for r in caplog.records)


async def test_a_reset_connection_is_a_backend_error(call, failing_policy, ctx_factory, proxy):
    policy = await failing_policy(limits=["1/minute"], on_backend_error="deny")
    proxy.mode = "reset"
    assert (await call(policy, ctx_factory()))[0] == 503


async def test_nothing_listening_is_a_backend_error(
    call, make_policy, make_redis_backend, ctx_factory
):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = make_redis_backend(f"redis://127.0.0.1:{port}/0")
    policy = make_policy(backend, limits=["1/minute"], on_backend_error="deny")
    for _ in range(3):
        ctx = ctx_factory()
        assert (await call(policy, ctx))[0] == 503 and ctx.ratelimit == "backend_error"
