"""Fault tests: real gateway processes, real upstreams misbehaving on purpose."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import httpx
import pytest
import yaml

from tests.support.gateway import GatewayProcess
from tests.support.upstream import Blackhole, Upstream


@pytest.fixture
def pair():
    servers = [Upstream("a").start(), Upstream("b").start()]
    yield servers
    for server in servers:
        server.stop()


async def load(url: str, seconds: float, concurrency: int = 8, midway=None) -> list[int]:
    statuses: list[int] = []
    deadline = time.monotonic() + seconds
    fired = False

    async def client() -> None:
        nonlocal fired
        async with httpx.AsyncClient(timeout=10) as http:
            while time.monotonic() < deadline:
                statuses.append((await http.get(url)).status_code)
                if midway and not fired and time.monotonic() > deadline - seconds / 2:
                    fired = True
                    await asyncio.to_thread(midway)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return statuses


def test_target_killed_mid_load_costs_no_client_errors(pair):
    a, b = pair
    config = {
        "upstreams": {"pair": {"targets": [a.url, b.url], "retries": {"attempts": 1},
                               "health": {"passive": {"consecutive_failures": 1}}}},
        "routes": [{"name": "pair", "match": {"path_prefix": "/"}, "upstream": "pair"}],
    }
    with GatewayProcess(config) as gw:
        statuses = asyncio.run(load(f"{gw.url}/echo", seconds=3, midway=b.stop))
    assert len(statuses) > 100
    assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}


def test_upstream_that_never_answers_gets_504_within_the_read_timeout():
    hole = Blackhole()
    config = {"upstreams": {"hole": {"targets": [hole.url], "timeouts": {"connect": 0.5, "read": 0.5}}},
              "routes": [{"name": "hole", "match": {"path_prefix": "/"}, "upstream": "hole"}]}
    try:
        with GatewayProcess(config) as gw:
            started = time.monotonic()
            r = httpx.get(f"{gw.url}/x", timeout=10)
            elapsed = time.monotonic() - started
    finally:
        hole.stop()
    assert r.status_code == 504 and r.headers["content-type"] == "application/problem+json"
    assert 0.4 < elapsed < 2.0


def test_a_slow_upstream_cannot_starve_the_routes_of_healthy_ones(pair):
    slow, fast = pair
    slow.behaviour["delay"] = 1.5
    config = {
        "upstreams": {"slow": {"targets": [slow.url], "max_in_flight": 4, "timeouts": {"read": 5}},
                      "fast": {"targets": [fast.url]}},
        "routes": [{"name": "inventory", "match": {"path_prefix": "/inventory"}, "upstream": "slow", "strip_prefix": "/inventory"},
                   {"name": "identity", "match": {"path_prefix": "/identity"}, "upstream": "fast", "strip_prefix": "/identity"}],
    }

    async def scenario(url: str):
        async with httpx.AsyncClient(timeout=10) as http:
            slow_calls = [asyncio.create_task(http.get(f"{url}/inventory/flaky")) for _ in range(20)]
            await asyncio.sleep(0.2)
            fast_times = []
            for _ in range(10):
                started = time.monotonic()
                assert (await http.get(f"{url}/identity/echo")).status_code == 200
                fast_times.append(time.monotonic() - started)
            slow_statuses = [r.status_code for r in await asyncio.gather(*slow_calls)]
            return fast_times, slow_statuses

    with GatewayProcess(config) as gw:
        fast_times, slow_statuses = asyncio.run(scenario(gw.url))
    assert max(fast_times) < 0.5, fast_times
    assert slow_statuses.count(200) == 4
    assert slow_statuses.count(503) == 16  # refused at once, not queued behind the slow ones


def test_circuit_opens_answers_fast_and_recovers(pair):
    flaky = pair[0]
    flaky.behaviour["status"] = 503
    config = {"upstreams": {"flaky": {"targets": [flaky.url],
                                      "circuit_breaker": {"failure_threshold": 3, "open_seconds": 1}}},
              "routes": [{"name": "flaky", "match": {"path_prefix": "/"}, "upstream": "flaky"}]}
    with GatewayProcess(config) as gw, httpx.Client(base_url=gw.url) as http:
        assert [http.get("/flaky").status_code for _ in range(3)] == [503, 503, 503]
        hits = flaky.behaviour["hits"]
        refused = http.get("/flaky")
        assert refused.status_code == 503 and refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "1"
        assert flaky.behaviour["hits"] == hits  # the open circuit sent nothing upstream
        flaky.behaviour["status"] = 200
        time.sleep(1.1)
        assert http.get("/flaky").status_code == 200  # the half-open probe
        assert [http.get("/flaky").status_code for _ in range(3)] == [200, 200, 200]


def test_503_from_one_target_is_retried_on_another(pair):
    a, b = pair
    a.behaviour["status"] = 503
    config = {"upstreams": {"pair": {"targets": [a.url, b.url], "retries": {"attempts": 1}}},
              "routes": [{"name": "pair", "match": {"path_prefix": "/"}, "upstream": "pair"}]}
    with GatewayProcess(config) as gw:
        bodies = [httpx.get(f"{gw.url}/flaky").text for _ in range(6)]
    assert bodies == ["b 200"] * 6


def test_post_is_not_retried_unless_the_route_opts_in(pair):
    a, b = pair
    a.behaviour["status"] = b.behaviour["status"] = 503
    config = {"upstreams": {"pair": {"targets": [a.url, b.url], "retries": {"attempts": 1}}},
              "routes": [{"name": "pair", "match": {"path_prefix": "/"}, "upstream": "pair"}]}
    with GatewayProcess(config) as gw:
        assert httpx.post(f"{gw.url}/flaky", content=b"x").status_code == 503
    assert a.behaviour.get("hits", 0) + b.behaviour.get("hits", 0) == 1
    config["routes"][0]["retry_non_idempotent"] = True
    with GatewayProcess(config) as gw:
        httpx.post(f"{gw.url}/flaky", content=b"x")
    assert a.behaviour.get("hits", 0) + b.behaviour.get("hits", 0) == 3


def test_sigterm_drains_in_flight_requests_and_exits_zero(pair):
    slow = pair[0]
    slow.behaviour["delay"] = 1.5
    config = {"upstreams": {"slow": {"targets": [slow.url]}},
              "routes": [{"name": "slow", "match": {"path_prefix": "/"}, "upstream": "slow"}]}
    gw = GatewayProcess(config, env={"GATEWAY_SHUTDOWN_DELAY": "0.5"}).start()
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(r=httpx.get(f"{gw.url}/flaky", timeout=10)))
    thread.start()
    time.sleep(0.3)
    os.killpg(gw.proc.pid, signal.SIGTERM)
    time.sleep(0.1)
    ready = httpx.get(f"{gw.url}/-/health/ready", timeout=2)
    assert ready.status_code == 503 and ready.json()["status"] == "draining"
    thread.join(10)
    assert result["r"].status_code == 200
    assert gw.proc.wait(15) == 0


def test_config_reload_rejects_a_broken_file_and_applies_a_good_one(pair):
    a = pair[0]
    good = {"upstreams": {"a": {"targets": [a.url]}},
            "routes": [{"name": "first", "match": {"path_prefix": "/first"}, "upstream": "a"}]}
    with GatewayProcess(good, env={"GATEWAY_CONFIG_WATCH": "0.2"}) as gw:
        assert httpx.get(f"{gw.url}/first").status_code == 200
        gw.config_path.write_text("routes: [ {name: broken\n")
        time.sleep(1.0)
        assert httpx.get(f"{gw.url}/first").status_code == 200
        assert "config reload refused" in gw.logs()
        second = {**good, "routes": [{"name": "second", "match": {"path_prefix": "/second"}, "upstream": "a"}]}
        gw.config_path.write_text(yaml.safe_dump(second))
        deadline = time.monotonic() + 5
        while httpx.get(f"{gw.url}/second").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert httpx.get(f"{gw.url}/second").status_code == 200
        assert httpx.get(f"{gw.url}/first").status_code == 404


def test_in_flight_request_finishes_on_the_config_it_started_with(pair):
    slow = pair[0]
    slow.behaviour["delay"] = 1.0
    config = {"upstreams": {"a": {"targets": [slow.url]}},
              "routes": [{"name": "first", "match": {"path_prefix": "/"}, "upstream": "a"}]}
    with GatewayProcess(config, env={"GATEWAY_CONFIG_WATCH": "0.1"}) as gw:
        result: dict = {}
        thread = threading.Thread(target=lambda: result.update(r=httpx.get(f"{gw.url}/flaky", timeout=10)))
        thread.start()
        time.sleep(0.2)
        gw.config_path.write_text(yaml.safe_dump({**config, "routes": [
            {"name": "other", "match": {"path_prefix": "/other"}, "upstream": "a"}]}))
        thread.join(10)
        assert result["r"].status_code == 200
        time.sleep(0.5)
        assert httpx.get(f"{gw.url}/flaky").status_code == 404


def test_active_health_checks_take_a_target_out_and_bring_it_back(pair):
    a, b = pair
    health = {"path": "/flaky/health", "interval": 0.2, "timeout": 0.5,
              "healthy_threshold": 2, "unhealthy_threshold": 2}
    config = {"upstreams": {"pair": {"targets": [a.url, b.url], "health": {"active": health}}},
              "routes": [{"name": "pair", "match": {"path_prefix": "/"}, "upstream": "pair"}]}

    def servers(count: int = 8) -> set[str]:
        return {httpx.get(f"{gw.url}/api/echo").headers["x-upstream"] for _ in range(count)}

    with GatewayProcess(config) as gw:
        assert servers() == {"a", "b"}
        b.behaviour["status"] = 503  # only its health endpoint answers /flaky; /api/echo still works
        time.sleep(1.0)
        assert servers() == {"a"}, "an actively unhealthy target still gets traffic"
        b.behaviour["status"] = 200
        time.sleep(1.0)
        assert servers() == {"a", "b"}, "a recovered target gets no traffic"
