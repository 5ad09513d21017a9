"""The in-memory backend on its own (what runs without REDIS_URL, and in 'local' mode)."""

from __future__ import annotations

import asyncio

from gateway.policies.ratelimit.limits import parse_limit
from gateway.policies.ratelimit.memory import MemoryBackend

TEN_PER_SECOND = parse_limit("10/second")


async def test_concurrent_requests_get_exactly_the_limit(clock):
    backend = MemoryBackend(clock=clock)
    decisions = await asyncio.gather(*(backend.hit("k", [TEN_PER_SECOND]) for _ in range(25)))
    assert sum(d.allowed for d in decisions) == 10
    assert [d.states[0].remaining for d in decisions[:10]] == list(range(9, -1, -1))


async def test_quota_comes_back_at_the_rate(clock):
    backend = MemoryBackend(clock=clock)
    for _ in range(10):
        await backend.hit("k", [TEN_PER_SECOND])
    refused = await backend.hit("k", [TEN_PER_SECOND])
    assert not refused.allowed and refused.retry_after == 1
    assert abs(refused.states[0].retry_after - 0.1) < 1e-6
    clock.advance(0.1)
    assert (await backend.hit("k", [TEN_PER_SECOND])).allowed
    assert not (await backend.hit("k", [TEN_PER_SECOND])).allowed
    clock.advance(1)
    assert (await backend.hit("k", [TEN_PER_SECOND])).states[0].remaining == 9


async def test_burst_allows_more_at_once_but_not_more_over_time(clock):
    backend = MemoryBackend(clock=clock)
    limit = parse_limit("2/second;burst=5")
    assert sum([(await backend.hit("k", [limit])).allowed for _ in range(8)]) == 5
    clock.advance(1)
    assert sum([(await backend.hit("k", [limit])).allowed for _ in range(8)]) == 2


async def test_keys_are_independent(clock):
    backend = MemoryBackend(clock=clock)
    for _ in range(10):
        await backend.hit("a", [TEN_PER_SECOND])
    assert not (await backend.hit("a", [TEN_PER_SECOND])).allowed
    assert (await backend.hit("b", [TEN_PER_SECOND])).allowed


async def test_memory_stays_bounded_by_dropping_expired_state_first(clock):
    backend = MemoryBackend(clock=clock, max_keys=100)
    for i in range(100):
        await backend.hit(f"old-{i}", [TEN_PER_SECOND])
    clock.advance(5)
    await backend.hit("busy", [parse_limit("1/hour")])
    for i in range(150):
        await backend.hit(f"new-{i}", [TEN_PER_SECOND])
    assert len(backend) <= 100
    assert not (await backend.hit("busy", [parse_limit("1/hour")])).allowed
