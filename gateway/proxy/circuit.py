"""A circuit breaker per upstream, per worker process.

closed --(failure_threshold in a row, or failure_rate over the window)--> open
open --(open_seconds)--> half-open: ``half_open_probes`` requests may go through
half-open --(a probe succeeds)--> closed;  --(a probe fails)--> open again

Per worker, not shared through Redis: a breaker exists to answer *at once*; a Redis
round trip per request to consult a shared state would put a network call (and a new
failure mode) on the path the breaker protects, and every worker sees the same failing
upstream within a few requests anyway. With N workers an outage costs at most
N x failure_threshold failed requests before every breaker is open.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from gateway.config.models import CircuitBreaker as Config

CLOSED, HALF_OPEN, OPEN = 0, 1, 2
STATE_NAMES = {CLOSED: "closed", HALF_OPEN: "half_open", OPEN: "open"}


class CircuitBreaker:
    def __init__(self, config: Config, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[int], None] | None = None) -> None:
        self.config = config
        self.clock = clock
        self.on_change = on_change
        self.state = CLOSED
        self.consecutive_failures = 0
        self.opened_at = 0.0
        self.probes_in_flight = 0
        self._window: deque[tuple[float, bool]] = deque()

    def retry_after(self) -> float:
        return max(0.0, self.opened_at + self.config.open_seconds - self.clock())

    def try_acquire(self) -> bool:
        """May a request go to the upstream now? A True in half-open takes a probe slot."""
        if self.state == OPEN:
            if self.retry_after() > 0:
                return False
            self._set(HALF_OPEN)
        if self.state == HALF_OPEN:
            if self.probes_in_flight >= self.config.half_open_probes:
                return False
            self.probes_in_flight += 1
        return True

    def record(self, success: bool) -> None:
        if self.state == HALF_OPEN:
            self.probes_in_flight = max(0, self.probes_in_flight - 1)
            self._trip() if not success else self._close()
            return
        if self.state == OPEN:
            return
        self.consecutive_failures = 0 if success else self.consecutive_failures + 1
        if self.consecutive_failures >= self.config.failure_threshold or self._rate_exceeded(success):
            self._trip()

    def _rate_exceeded(self, success: bool) -> bool:
        if self.config.failure_rate is None:
            return False
        now = self.clock()
        self._window.append((now, success))
        while self._window and self._window[0][0] < now - self.config.window_seconds:
            self._window.popleft()
        if len(self._window) < self.config.minimum_requests:
            return False
        failures = sum(1 for _, ok in self._window if not ok)
        return failures / len(self._window) >= self.config.failure_rate

    def _trip(self) -> None:
        self.opened_at = self.clock()
        self.probes_in_flight = 0
        self._window.clear()
        self._set(OPEN)

    def _close(self) -> None:
        self.consecutive_failures = 0
        self._set(CLOSED)

    def _set(self, state: int) -> None:
        if state != self.state:
            self.state = state
            if self.on_change is not None:
                self.on_change(state)
