"""Redis backend: every decision is ONE round trip, an EVALSHA of ``gcra.lua``.

The script reads and updates all of a key's limits atomically, so concurrent workers
cannot race past a limit, and it sets each key to expire when its state stops
mattering. Keys share a hash tag (``{route|key}``), so a cluster keeps them on one slot.
If the server lost its script cache (restart, ``SCRIPT FLUSH``) the NOSCRIPT answer is
followed by one EVAL, which caches the script again.

The time is Redis's own ``TIME`` (one clock for every worker and host) unless a
``clock`` is injected, which tests use to cross hours without sleeping.

Timeouts are short (DESIGN pitfalls: redis-py waits 5 s by default, and retries), and a
``Breaker`` stops an outage from costing a timeout per request. Every failure surfaces as
``BackendUnavailable``; what it means for the request is the policy's decision.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from gateway.policies.ratelimit.backend import (
    BackendUnavailable,
    Clock,
    Decision,
    LimitState,
    RateLimitBackend,
)
from gateway.policies.ratelimit.breaker import Breaker
from gateway.policies.ratelimit.limits import Limit

log = logging.getLogger("gateway.ratelimit")
SCRIPT = (Path(__file__).with_name("gcra.lua")).read_text()
SCRIPT_SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()


class RedisBackend(RateLimitBackend):
    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        timeout: float = 0.1,
        breaker_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        max_connections: int = 64,
        prefix: str = "gateway:rl",
    ) -> None:
        super().__init__(clock=clock)
        self.url, self.timeout, self.prefix = url, timeout, prefix
        self.max_connections = max_connections
        self.breaker = Breaker(breaker_seconds, clock=monotonic)
        self._client: Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self) -> None:
        """Create the pool and cache the script, so the first decision is one EVALSHA too.

        Best effort: a Redis that is down at start-up is handled per request, like later.
        """
        try:
            async with asyncio.timeout(self.timeout * 2):
                await self._redis().script_load(SCRIPT)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("rate-limit store not reachable at start-up (%s)", type(exc).__name__)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def hit(
        self, key: str, limits: Sequence[Limit], *, cost: int = 1, timeout: float | None = None
    ) -> Decision:
        if not self.breaker.allow():
            raise BackendUnavailable("circuit open after a recent failure")
        keys = [f"{self.prefix}:{{{key}}}:{limit.name}" for limit in limits]
        args = [self._now_arg(), cost, *_limit_args(limits)]
        try:
            async with asyncio.timeout(timeout or self.timeout):
                raw = await self._evalsha(keys, args)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            raise BackendUnavailable(type(exc).__name__) from exc
        if self.breaker.success():
            log.warning("rate-limit store reachable again: limits are shared across workers")
        return _decision(raw, limits)

    async def _evalsha(self, keys: list[str], args: list[object]) -> list[int]:
        client = self._redis()
        try:
            return await client.evalsha(SCRIPT_SHA, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(SCRIPT, len(keys), *keys, *args)

    def _redis(self) -> Redis:
        """The pooled client of the running event loop (one per worker; re-made per loop)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            pool = BlockingConnectionPool.from_url(
                self.url,
                max_connections=self.max_connections,
                timeout=self.timeout,  # waiting for a free connection
                socket_connect_timeout=self.timeout,
                socket_timeout=self.timeout,
                retry=Retry(NoBackoff(), 0),  # a retry would double the worst case
            )
            self._client, self._loop = Redis.from_pool(pool), loop
        return self._client

    def _now_arg(self) -> int | str:
        return self.now_us() if self.clock is not None else ""

    def _failed(self, exc: BaseException) -> None:
        if self.breaker.failure():
            log.warning(
                "rate-limit store unavailable (%s); on_backend_error applies, next try in %.1fs",
                type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}",
                self.breaker.interval,
            )


def _limit_args(limits: Sequence[Limit]) -> list[str]:
    args: list[str] = []
    for limit in limits:
        interval = limit.interval * 1e6
        args += [repr(interval), repr(interval * limit.burst)]
    return args


def _decision(raw: list[int], limits: Sequence[Limit]) -> Decision:
    states = []
    for i, limit in enumerate(limits):
        allowed, remaining, wait_us, backlog_us = (int(v) for v in raw[4 * i : 4 * i + 4])
        states.append(LimitState(limit, bool(allowed), remaining, backlog_us / 1e6, wait_us / 1e6))
    return Decision.from_states(states)
