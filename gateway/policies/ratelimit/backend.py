"""The rate-limit backend interface: one call decides all of a key's limits atomically.

RateLimitBackend
 ├── MemoryBackend   (``memory``: this process only)
 └── RedisBackend    (``redis``: shared by every worker; one Lua script call per decision)

A backend that cannot decide raises ``BackendUnavailable``, and only that: the policy
turns it into allow, deny or a local decision (``on_backend_error``).
"""

from __future__ import annotations

import abc
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.policies.ratelimit.limits import Limit

log = logging.getLogger("gateway.ratelimit")

#: seconds since the epoch; injectable so tests can cross hours without sleeping
Clock = Callable[[], float]


class BackendUnavailable(Exception):
    """The backend did not answer in time, or answered with an error."""


@dataclass(frozen=True, slots=True)
class LimitState:
    """One limit's view of one request."""

    limit: Limit
    allowed: bool
    remaining: int
    #: seconds until the whole quota is available again
    reset_after: float
    #: seconds until a request would be allowed (0 when it was)
    retry_after: float


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    states: tuple[LimitState, ...]

    @property
    def retry_after(self) -> int:
        """Whole seconds to wait before retrying (Retry-After); 0 when allowed."""
        if self.allowed:
            return 0
        return max(1, math.ceil(max(s.retry_after for s in self.states)))

    @property
    def tightest(self) -> LimitState:
        """The limit that decided: the longest wait if refused, else the fewest remaining."""
        if not self.allowed:
            return max(self.states, key=lambda s: s.retry_after)
        return min(self.states, key=lambda s: (s.remaining, -s.reset_after))

    @classmethod
    def from_states(cls, states: Sequence[LimitState]) -> Decision:
        return cls(allowed=all(s.allowed for s in states), states=tuple(states))


class RateLimitBackend(abc.ABC):
    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock = clock

    @abc.abstractmethod
    async def hit(
        self, key: str, limits: Sequence[Limit], *, cost: int = 1, timeout: float | None = None
    ) -> Decision:
        """Count one request against every limit of ``key`` if all allow it, atomically."""
        raise NotImplementedError(".hit() must be overridden")

    async def startup(self) -> None:
        """Open connections (once per worker, inside its event loop)."""

    async def close(self) -> None:
        """Release connections."""

    def now_us(self) -> int:
        return round((self.clock or time.time)() * 1e6)


_shared: dict[str, RateLimitBackend] = {}


def shared_backend(redis_url: str | None) -> RateLimitBackend:
    """The worker's backend for ``redis_url`` (memory when None), created once."""
    key = redis_url or ""
    if key not in _shared:
        _shared[key] = _create(redis_url)
    return _shared[key]


def _create(redis_url: str | None) -> RateLimitBackend:
    if redis_url:
        from gateway.policies.ratelimit.redis import RedisBackend

        return RedisBackend(redis_url)
    from gateway.policies.ratelimit.memory import MemoryBackend

    log.warning(
        "REDIS_URL is not set: rate limits are kept in memory and apply per worker process"
    )
    return MemoryBackend()
