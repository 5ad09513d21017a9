"""A JWKS cache that stays up when the identity service does not.

- Keys are fetched with the worker's async httpx client (short timeout) and kept for
  ``ttl`` seconds; a stale set keeps serving while a background refresh runs, and keeps
  serving when that refresh fails (the last good set is never thrown away).
- An unknown ``kid`` triggers at most one refresh per ``cooldown`` and is then cached
  negatively for ``cooldown`` seconds: a flood of bogus kids costs the identity service
  one request per cooldown, not one per token.
- Concurrent refreshes collapse into one in-flight task that every caller awaits.
- Without any key set (never fetched), a token is answered 503 by the policy, never
  let through; such a cache retries at most once per ``retry_empty`` seconds.

``refresh_results`` (success / error) and ``age_seconds()`` feed
``gateway_jwks_refresh_total{result}`` and ``gateway_jwks_age_seconds``; ``live_caches()``
lists every cache of the worker for a metrics collector. Routes of one config that name
the same JWKS URL share one cache (``shared_cache``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

import httpx

from gateway.auth.keys import KeysUnavailable, UnknownKid, WrongKeyType
from gateway.auth.keyset import KeySet

log = logging.getLogger(__name__)

_LIVE: weakref.WeakSet[JwksCache] = weakref.WeakSet()
_SHARED: weakref.WeakKeyDictionary[object, dict[tuple, JwksCache]] = weakref.WeakKeyDictionary()


def live_caches() -> list[JwksCache]:
    return list(_LIVE)


def shared_cache(services: object, url: str, **options: Any) -> JwksCache:
    """One cache per (config's ``Services``, URL, options), fetching with ``services.http``.

    The cache holds ``services`` weakly, so a reloaded config's caches go with it.
    """
    caches = _SHARED.setdefault(services, {})
    key = (url, *sorted(options.items()))
    if key not in caches:
        ref = weakref.ref(services)
        caches[key] = JwksCache(url, lambda: getattr(ref(), "http", None), **options)
    return caches[key]


class JwksCache:
    def __init__(
        self,
        url: str,
        http: Callable[[], httpx.AsyncClient | None],
        *,
        ttl: float = 300.0,
        cooldown: float = 10.0,
        timeout: float = 2.0,
        retry_empty: float = 1.0,
        negative_size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._http = http
        self.ttl, self.cooldown, self.timeout, self.retry_empty = (
            ttl,
            cooldown,
            timeout,
            retry_empty,
        )
        self.clock = clock
        self.keyset: KeySet | None = None
        self.fetched_at: float | None = None
        self.refresh_results: Counter[str] = Counter()
        self._attempted_at: float | None = None
        self._inflight: asyncio.Task[bool] | None = None
        self._negative: OrderedDict[str, float] = OrderedDict()
        self._negative_size = negative_size
        _LIVE.add(self)

    async def startup(self) -> None:
        """Pre-fetch; a failure is logged, not fatal (the first token retries)."""
        if self.keyset is None:
            await self.refresh()

    async def close(self) -> None:
        if self._inflight is not None and not self._inflight.done():
            self._inflight.cancel()

    def age_seconds(self) -> float | None:
        """Seconds since the serving key set was fetched; ``None`` before the first one."""
        return None if self.fetched_at is None else self.clock() - self.fetched_at

    async def key(self, kid: str | None, alg: str) -> Any:
        if self.keyset is None:
            await self._fetch_first()
        elif self._stale():
            self._refresh_in_background()
        found = self._lookup(kid, alg)
        if found is None and await self._refreshed_for(kid):
            found = self._lookup(kid, alg)
        if found is None:
            self._remember_unknown(kid)
            raise UnknownKid(kid)
        return found

    def _lookup(self, kid: str | None, alg: str) -> Any:
        keyset = self.keyset
        if keyset is None:
            return None
        key = keyset.key(kid, alg)
        if key is None and (kid in keyset.kids or (kid is None and len(keyset.kids) == 1)):
            raise WrongKeyType(kid)
        return key

    async def _fetch_first(self) -> None:
        if self._inflight is None and not self._may_attempt(self.retry_empty):
            raise KeysUnavailable(self.url)
        await self.refresh()
        if self.keyset is None:
            raise KeysUnavailable(self.url)

    async def _refreshed_for(self, kid: str | None) -> bool:
        """Refresh for an unknown kid if allowed; True when a refresh was awaited."""
        key = kid or ""
        if self._negative_hit(key):
            return False
        if self._inflight is None and not self._may_attempt(self.cooldown):
            return False
        await self.refresh()
        return True

    async def refresh(self) -> bool:
        """Fetch now, or join the fetch already running; True when a key set is serving."""
        if self._inflight is None:
            self._attempted_at = self.clock()
            self._inflight = asyncio.create_task(self._refresh())
        return await asyncio.shield(self._inflight)

    def _refresh_in_background(self) -> None:
        if self._inflight is None and self._may_attempt(self.cooldown):
            self._attempted_at = self.clock()
            self._inflight = asyncio.create_task(self._refresh())

    async def _refresh(self) -> bool:
        try:
            keyset = await self._fetch()
        except Exception as exc:  # noqa: BLE001 (any failure keeps the last good set)
            self.refresh_results["error"] += 1
            _count_refresh("error")
            log.warning("JWKS refresh from %s failed: %s", self.url, _describe(exc))
        else:
            self.keyset, self.fetched_at = keyset, self.clock()
            self._negative.clear()
            self.refresh_results["success"] += 1
            _count_refresh("success")
        finally:
            self._inflight = None
        return self.keyset is not None

    async def _fetch(self) -> KeySet:
        client = self._http()
        if client is None:
            raise RuntimeError("the gateway's HTTP client is not started")
        response = await client.get(
            self.url, timeout=self.timeout, headers={"Accept": "application/json"}
        )
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}")
        return KeySet.from_json(response.content)

    def _stale(self) -> bool:
        return self.fetched_at is not None and self.clock() - self.fetched_at >= self.ttl

    def _may_attempt(self, interval: float) -> bool:
        return self._attempted_at is None or self.clock() - self._attempted_at >= interval

    def _negative_hit(self, kid: str) -> bool:
        until = self._negative.get(kid)
        if until is None:
            return False
        if self.clock() < until:
            return True
        del self._negative[kid]
        return False

    def _remember_unknown(self, kid: str | None) -> None:
        """Until ``cooldown`` after the first miss: a flood must not keep extending it."""
        if (kid or "") in self._negative:
            return
        self._negative[kid or ""] = self.clock() + self.cooldown
        while len(self._negative) > self._negative_size:
            self._negative.popitem(last=False)


def _count_refresh(result: str) -> None:
    from gateway.metrics import jwks_refreshed  # lazily: the launcher loads configs before it wipes the metrics dir

    jwks_refreshed(result)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
