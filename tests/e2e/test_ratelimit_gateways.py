"""Rate limiting through real gateways: several workers and two instances, one Redis."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
import redis

from tests.support.gateway import GatewayProcess
from tests.support.services import require_redis
from tests.support.upstream import Upstream


@pytest.fixture(scope="module")
def upstream():
    server = Upstream("a").start()
    yield server
    server.stop()


@pytest.fixture
def route_name():
    """A fresh route name: Redis keys include it, so runs never share buckets."""
    name = f"rl-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(require_redis())
    for key in client.scan_iter(f"*{name}*"):
        client.delete(key)


def config(upstream, route: str, limits: list[str], key: str = "route") -> dict:
    return {
        "upstreams": {"a": {"targets": [upstream.url]}},
        "routes": [{"name": route, "match": {"path_prefix": "/limited"}, "upstream": "a",
                    "policies": [{"rate_limit": {"limits": limits, "key": key}}]}],
    }


async def hammer(urls: list[str], seconds: float, concurrency: int = 16) -> tuple[int, int, float]:
    ok = limited = 0
    started = time.monotonic()
    deadline = started + seconds

    async def client(url: str) -> None:
        nonlocal ok, limited
        async with httpx.AsyncClient(timeout=5) as http:
            while time.monotonic() < deadline:
                status = (await http.get(url)).status_code
                ok += status == 200
                limited += status == 429

    await asyncio.gather(*(client(urls[i % len(urls)] + "/limited") for i in range(concurrency)))
    return ok, limited, time.monotonic() - started


def test_limit_is_exact_across_workers_and_instances(upstream, route_name):
    env = {"REDIS_URL": require_redis()}
    cfg = config(upstream, route_name, ["10/second"])
    with GatewayProcess(cfg, workers=2, env=env) as first, GatewayProcess(cfg, workers=2, env=env) as second:
        ok, limited, elapsed = asyncio.run(hammer([first.url, second.url], seconds=3.0))
    # GCRA: a burst of 10, then 10 per second; never above, at most one window's worth below
    ceiling = 10 + 10 * elapsed
    assert ok <= ceiling + 1, (ok, elapsed)
    assert ok >= ceiling - 10 - 1, (ok, elapsed)
    assert limited > ok  # the load really exceeded the limit


def test_headers_follow_the_decisions_and_retry_after_is_honest(upstream, route_name):
    env = {"REDIS_URL": require_redis()}
    with GatewayProcess(config(upstream, route_name, ["3/2second"]), env=env) as gw:
        with httpx.Client(base_url=gw.url) as http:
            answers = [http.get("/limited") for _ in range(4)]
            assert [r.status_code for r in answers] == [200, 200, 200, 429]
            assert [int(r.headers["x-ratelimit-remaining"]) for r in answers[:3]] == [2, 1, 0]
            assert answers[0].headers["ratelimit-policy"] == '"2s";q=3;w=2'
            assert answers[0].headers["ratelimit"].startswith('"2s";r=2;t=')
            refused = answers[3]
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["status"] == 429
            wait = int(refused.headers["retry-after"])
            assert 1 <= wait <= 2
            time.sleep(wait)
            assert http.get("/limited").status_code == 200


def test_spoofed_forwarded_for_from_an_untrusted_peer_shares_one_bucket(upstream, route_name):
    env = {"REDIS_URL": require_redis()}
    with GatewayProcess(config(upstream, route_name, ["3/minute"], key="ip"), env=env) as gw:
        statuses = [
            httpx.get(f"{gw.url}/limited", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
            for i in range(5)
        ]
    assert statuses == [200, 200, 200, 429, 429]


def test_forwarded_for_from_a_trusted_proxy_keys_by_the_real_client(upstream, route_name):
    env = {"REDIS_URL": require_redis(), "GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32"}
    with GatewayProcess(config(upstream, route_name, ["1/minute"], key="ip"), env=env) as gw:
        statuses = [
            httpx.get(f"{gw.url}/limited", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
            for i in (1, 2, 1)
        ]
    assert statuses == [200, 200, 429]


def test_fail_open_when_redis_is_unreachable(upstream, route_name):
    with GatewayProcess(config(upstream, route_name, ["1/minute"]), env={"REDIS_URL": "redis://127.0.0.1:1/0"}) as gw:
        started = time.monotonic()
        statuses = [httpx.get(f"{gw.url}/limited").status_code for _ in range(5)]
        assert time.monotonic() - started < 3
    assert statuses == [200] * 5
