"""The Redis backend against a real server: atomic, exact, one round trip per decision."""

from __future__ import annotations

import asyncio

from gateway.policies.ratelimit.limits import parse_limit
from gateway.policies.ratelimit.memory import MemoryBackend

TEN_PER_SECOND = parse_limit("10/second")


async def test_concurrent_requests_from_two_workers_get_exactly_the_limit(
    make_redis_backend, clock
):
    workers = [make_redis_backend(clock=clock), make_redis_backend(clock=clock)]
    calls = [workers[i % 2].hit("k", [TEN_PER_SECOND]) for i in range(30)]
    decisions = await asyncio.gather(*calls)
    assert sum(d.allowed for d in decisions) == 10
    remaining = sorted(d.states[0].remaining for d in decisions if d.allowed)
    assert remaining == list(range(10))


async def test_server_time_is_used_when_no_clock_is_injected(make_redis_backend):
    backend = make_redis_backend()
    limit = parse_limit("3/hour")
    decisions = [await backend.hit("k", [limit]) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 1190 <= decisions[-1].states[0].retry_after <= 1200


async def test_the_tighter_limit_refuses_and_a_refusal_costs_nothing(make_redis_backend, clock):
    backend = make_redis_backend(clock=clock)
    limits = [parse_limit("3/second"), parse_limit("5/minute")]
    first = [await backend.hit("k", limits) for _ in range(4)]
    assert [d.allowed for d in first] == [True, True, True, False]
    refused = first[-1]
    assert refused.tightest.limit.name == "1s"
    assert refused.states[1].allowed and refused.states[1].remaining == 2  # not consumed
    clock.advance(1)
    second = [await backend.hit("k", limits) for _ in range(3)]
    assert [d.allowed for d in second] == [True, True, False]
    assert second[-1].tightest.limit.name == "1m"
    assert second[-1].retry_after == 11  # a second of the minute has passed


async def test_an_hourly_limit_with_an_injected_clock(make_redis_backend, clock):
    backend = make_redis_backend(clock=clock)
    limit = parse_limit("5/hour")
    assert all([(await backend.hit("k", [limit])).allowed for _ in range(5)])
    refused = await backend.hit("k", [limit])
    assert not refused.allowed and refused.retry_after == 720
    clock.advance(719)
    assert not (await backend.hit("k", [limit])).allowed
    clock.advance(1)
    assert (await backend.hit("k", [limit])).allowed
    clock.advance(3600)
    assert (await backend.hit("k", [limit])).states[0].remaining == 4


async def test_redis_and_memory_decide_the_same(make_redis_backend, clock):
    redis_backend, memory = make_redis_backend(clock=clock), MemoryBackend(clock=clock)
    limits = [parse_limit("4/second;burst=6"), parse_limit("20/minute")]
    for step in [0, 0, 0.05, 0, 0.3, 0, 0, 0.01, 1.2, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0.25, 0] * 2:
        clock.advance(step)
        ours, theirs = await redis_backend.hit("k", limits), await memory.hit("k", limits)
        assert ours.allowed == theirs.allowed
        for a, b in zip(ours.states, theirs.states):
            assert (a.allowed, a.remaining) == (b.allowed, b.remaining)
            assert abs(a.retry_after - b.retry_after) < 1e-5
            assert abs(a.reset_after - b.reset_after) < 1e-5


async def test_keys_expire_on_their_own(make_redis_backend, redis_prefix, redis_admin):
    backend = make_redis_backend()
    await backend.hit("orders|h=" + "a" * 32, [parse_limit("10/minute"), TEN_PER_SECOND])
    keys = [key async for key in redis_admin.scan_iter(match=f"{redis_prefix}:*")]
    ttls = {key: await redis_admin.pttl(key) for key in keys}
    assert len(keys) == 2
    assert all(0 < ttl <= 6000 for ttl in ttls.values())


async def test_one_round_trip_per_decision(make_redis_backend, proxy, clock):
    backend = make_redis_backend(proxy.url, clock=clock)
    limits = [parse_limit("100/second"), parse_limit("1000/hour"), parse_limit("5000/day")]
    await backend.hit("warm-up", limits)  # connects (handshake) and caches the script
    before = len(proxy.commands.names)
    for i in range(20):
        await backend.hit(f"k{i % 3}", limits)
    assert proxy.commands.names[before:] == ["EVALSHA"] * 20


async def test_recovers_when_the_script_cache_is_flushed(
    make_redis_backend, proxy, clock, redis_admin
):
    backend = make_redis_backend(proxy.url, clock=clock)
    limit = parse_limit("3/minute")
    assert (await backend.hit("k", [limit])).allowed
    await redis_admin.script_flush()
    before = len(proxy.commands.names)
    after_flush = [await backend.hit("k", [limit]) for _ in range(3)]
    assert [d.allowed for d in after_flush] == [True, True, False]  # state survived
    assert proxy.commands.names[before:] == ["EVALSHA", "EVAL", "EVALSHA", "EVALSHA"]
    # a flush met by several decisions sent together: each falls back, none is lost
    assert (await backend.hit("b", [limit])).allowed
    await redis_admin.script_flush()
    batch = await asyncio.gather(*(backend.hit("b", [limit]) for _ in range(4)))
    assert sum(d.allowed for d in batch) == 2  # 1 + 2 = the limit of 3


async def test_startup_caches_the_script_so_the_first_decision_is_one_call_too(
    make_redis_backend, proxy, clock
):
    backend = make_redis_backend(proxy.url, clock=clock)
    await backend.startup()
    await backend.hit("k", [TEN_PER_SECOND])
    handshake = {"HELLO", "CLIENT"}  # once per connection
    assert [n for n in proxy.commands.names if n not in handshake] == ["SCRIPT", "EVALSHA"]


async def test_startup_survives_a_missing_redis(make_redis_backend, proxy):
    proxy.mode = "reset"
    backend = make_redis_backend(proxy.url)
    await backend.startup()  # logs a warning, raises nothing


async def test_a_restarted_server_costs_no_decision(make_redis_backend, proxy, clock):
    """Every pooled connection dies with the server; the next decision notices on the
    first one, drops the rest and is made on a new connection."""
    backend = make_redis_backend(proxy.url, clock=clock)
    limit = parse_limit("100/second")
    await asyncio.gather(*(backend.hit(f"k{i}", [limit]) for i in range(4)))  # pooled connection(s)
    opened = proxy.connections
    proxy.drop_connections()
    await asyncio.sleep(0.05)
    decisions = [await backend.hit("k0", [limit]) for _ in range(3)]
    assert all(d.allowed for d in decisions)
    assert proxy.connections == opened + 1


async def test_decisions_of_one_moment_share_a_connection_and_stay_exact(make_redis_backend, proxy, clock):
    """30 requests at once: one connection and one EVALSHA each (not 30 connections),
    and exactly the limit allowed."""
    backend = make_redis_backend(proxy.url, clock=clock)
    decisions = await asyncio.gather(*(backend.hit("k", [TEN_PER_SECOND]) for _ in range(30)))
    assert sum(d.allowed for d in decisions) == 10
    assert sorted(d.states[0].remaining for d in decisions if d.allowed) == list(range(10))
    assert proxy.connections == 1
    assert [n for n in proxy.commands.names if n == "EVALSHA"] == ["EVALSHA"] * 30


async def test_a_batch_on_a_connection_dead_since_a_restart_is_sent_again(make_redis_backend, proxy, clock):
    backend = make_redis_backend(proxy.url, clock=clock)
    limit = parse_limit("100/second")
    await backend.hit("k", [limit])
    proxy.drop_connections()
    await asyncio.sleep(0.05)
    decisions = await asyncio.gather(*(backend.hit("k", [limit]) for _ in range(5)))
    assert all(d.allowed for d in decisions)
    assert proxy.connections == 2
