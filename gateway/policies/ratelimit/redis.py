"""Redis backend: every decision is ONE command, an EVALSHA of ``gcra.lua``; the
decisions of one event-loop step share a round trip (``batching``).

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
from typing import Any

from redis.asyncio import ConnectionPool
from redis.exceptions import NoScriptError, RedisError

from gateway.policies.ratelimit.backend import (
    BackendUnavailable,
    Clock,
    Decision,
    LimitState,
    RateLimitBackend,
)
from gateway.policies.ratelimit.batching import Batcher
from gateway.policies.ratelimit.breaker import Breaker
from gateway.policies.ratelimit.connections import Connections
from gateway.policies.ratelimit.limits import Limit

log = logging.getLogger("gateway.ratelimit")
SCRIPT = (Path(__file__).with_name("gcra.lua")).read_text()
SCRIPT_SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()
PACKED_CACHE_SIZE = 10_000


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
        self._batch: Batcher | None = None
        self._packer: Any = None
        self._packed_cache: dict[tuple, list[bytes]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self) -> None:
        """Create the pool and cache the script, so the first decision is one EVALSHA too.

        Best effort: a Redis that is down at start-up is handled per request, like later.
        """
        try:
            async with asyncio.timeout(self.timeout * 2):
                connections = self._batcher().connections
                connection, _ = await connections.acquire()
                await connections.round_trip(connection, connection.pack_command("SCRIPT", "LOAD", SCRIPT))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("rate-limit store not reachable at start-up (%s)", type(exc).__name__)

    async def close(self) -> None:
        batch, self._batch = self._batch, None
        if batch is not None:
            await batch.connections.close()

    async def hit(
        self, key: str, limits: Sequence[Limit], *, cost: int = 1, timeout: float | None = None
    ) -> Decision:
        if not self.breaker.allow():
            raise BackendUnavailable("circuit open after a recent failure")
        keys = [f"{self.prefix}:{{{key}}}:{limit.name}" for limit in limits]
        args = [self._now_arg(), cost, *_limit_args(limits)]
        try:
            timeout = timeout or self.timeout
            async with asyncio.timeout(timeout):
                raw = await self._evalsha(keys, args, timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            raise BackendUnavailable(type(exc).__name__) from exc
        if self.breaker.success():
            log.warning("rate-limit store reachable again: limits are shared across workers")
        return _decision(raw, limits)

    async def _evalsha(self, keys: list[str], args: list[object], timeout: float) -> list[int]:
        try:
            return await self._batcher().call(self._packed(keys, args), timeout)
        except NoScriptError:  # the server lost its script cache: EVAL caches it again
            connections = self._batcher().connections
            connection, _ = await connections.acquire()
            packed = connection.pack_command("EVAL", SCRIPT, len(keys), *keys, *args)
            return await connections.round_trip(connection, packed)

    def _packed(self, keys: list[str], args: list[object]) -> list[bytes]:
        """The EVALSHA command, encoded once per (keys, args): with Redis's clock the
        arguments of a key never change, and encoding was a tenth of a decision's CPU."""
        cache_key = (*keys, "|", *args)
        packed = self._packed_cache.get(cache_key)
        if packed is None:
            if len(self._packed_cache) >= PACKED_CACHE_SIZE:
                self._packed_cache.clear()
            packed = self._packer.pack_command("EVALSHA", SCRIPT_SHA, len(keys), *keys, *args)
            self._packed_cache[cache_key] = packed
        return packed

    def _batcher(self) -> Batcher:
        """The connections of the running event loop, behind their batcher (one set per
        worker; re-made per loop)."""
        loop = asyncio.get_running_loop()
        if self._batch is None or self._loop is not loop:
            # Connecting is bounded by ``socket_connect_timeout``; writing and reading by
            # the asyncio.timeout around each decision (``hit``).
            factory = ConnectionPool.from_url(self.url, socket_connect_timeout=self.timeout, socket_timeout=None)
            self._batch, self._loop = Batcher(Connections(factory, self.max_connections)), loop
            self._packer = factory.make_connection()  # never connected: encodes commands
        return self._batch

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
