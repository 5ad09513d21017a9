"""A circuit breaker in front of the rate-limit store.

While Redis is down or blackholed, every call would otherwise wait for its timeout. Open
after a failure, the breaker refuses calls at once and lets ONE probe through per
``interval``: an outage costs one timeout per interval, not one per request. A
successful probe closes it again. Refusals are not failures, so nothing piles up.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Breaker:
    def __init__(self, interval: float = 1.0, *, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.clock = clock
        self._opened_at: float | None = None
        self._warned_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def allow(self) -> bool:
        """True when closed, or when this call is the open breaker's probe for the interval."""
        if self._opened_at is None:
            return True
        now = self.clock()
        if now - self._opened_at < self.interval:
            return False
        self._opened_at = now  # the next probe waits another interval
        return True

    def success(self) -> bool:
        """Close; True if it was open (the caller may log the recovery)."""
        was_open, self._opened_at = self._opened_at is not None, None
        return was_open

    def failure(self) -> bool:
        """Open (again); True at most once per interval, when the caller should warn."""
        now = self._opened_at = self.clock()
        if self._warned_at is not None and now - self._warned_at < self.interval:
            return False
        self._warned_at = now
        return True
