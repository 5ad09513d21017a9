"""In-memory backend: exact within one process, nothing shared between workers.

Used when no ``REDIS_URL`` is set, and as the degraded ``local`` mode when Redis fails.
Safe under asyncio without a lock because ``hit`` never awaits between read and write.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from gateway.policies.ratelimit import gcra
from gateway.policies.ratelimit.backend import Clock, Decision, RateLimitBackend
from gateway.policies.ratelimit.limits import Limit


class MemoryBackend(RateLimitBackend):
    def __init__(self, *, clock: Clock | None = None, max_keys: int = 100_000) -> None:
        super().__init__(clock=clock)
        self.max_keys = max_keys
        #: (key, limit name) -> TAT in microseconds; useless once in the past
        self._tats: dict[tuple[str, str], int] = {}

    async def hit(
        self, key: str, limits: Sequence[Limit], *, cost: int = 1, timeout: float | None = None
    ) -> Decision:
        return self.hit_now(key, limits, cost=cost)

    def hit_now(self, key: str, limits: Sequence[Limit], *, cost: int = 1) -> Decision:
        now = self.now_us()
        slots = [(key, limit.name) for limit in limits]
        states, new_tats = gcra.evaluate([self._tats.get(s) for s in slots], limits, now, cost)
        if new_tats is not None:
            self._tats.update(zip(slots, new_tats))
            self._bound(now)
        return Decision.from_states(states)

    def __len__(self) -> int:
        return len(self._tats)

    def _bound(self, now_us: int) -> None:
        """When full, drop expired TATs, then the earliest ones (down to 90%).

        The earliest TAT is the state closest to "fresh" anyway, so a flood of new keys
        cannot wipe out the state of a client that is currently being limited.
        """
        if len(self._tats) <= self.max_keys:
            return
        live = {slot: tat for slot, tat in self._tats.items() if tat > now_us}
        excess = len(live) - int(self.max_keys * 0.9)
        for slot in heapq.nsmallest(max(0, excess), live, key=live.__getitem__):
            del live[slot]
        self._tats = live
