"""A retry budget (as Envoy's): retries may add at most a share of the requests.

Counted over a sliding second-granularity window per upstream and worker. Without a
budget, a struggling upstream receives (1 + attempts) times its normal load exactly
when it can least take it; with one, retries stay a small fraction of traffic.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 10.0


class RetryBudget:
    def __init__(self, percent: float, min_per_second: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.percent = percent
        self.min_per_second = min_per_second
        self.clock = clock
        self._requests: deque[float] = deque()
        self._retries: deque[float] = deque()

    def record_request(self) -> None:
        self._requests.append(self.clock())

    def try_spend(self) -> bool:
        now = self.clock()
        for events in (self._requests, self._retries):
            while events and events[0] < now - WINDOW_SECONDS:
                events.popleft()
        allowed = max(self.min_per_second * WINDOW_SECONDS, len(self._requests) * self.percent / 100)
        if len(self._retries) + 1 > allowed:
            return False
        self._retries.append(now)
        return True
