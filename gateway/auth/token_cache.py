"""Verified tokens, remembered by the sha256 of the token until shortly before ``exp``.

A hit skips the signature check and claim validation; the token itself is never stored.
Entries never outlive ``exp - margin`` nor ``max_age`` (so a key withdrawn from the
JWKS stops being honoured within ``max_age``); the least recently used entry goes first
when the cache is full.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class TokenCache(Generic[T]):
    def __init__(
        self,
        size: int = 10_000,
        *,
        margin: float = 5.0,
        max_age: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.size, self.margin, self.max_age = size, margin, max_age
        self.clock = clock
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[bytes, tuple[float, T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> T | None:
        digest = _digest(token)
        entry = self._entries.get(digest)
        if entry is None or self.clock() >= entry[0]:
            self._entries.pop(digest, None)
            self.misses += 1
            return None
        self._entries.move_to_end(digest)
        self.hits += 1
        return entry[1]

    def put(self, token: str, value: T, exp: float) -> None:
        now = self.clock()
        until = min(exp - self.margin, now + self.max_age)
        if until <= now or self.size <= 0:
            return
        digest = _digest(token)
        self._entries[digest] = (until, value)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
