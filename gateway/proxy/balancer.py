"""Target selection with passive health (outlier ejection, as Envoy's).

A target that fails ``consecutive_failures`` times in a row is ejected for
``base_ejection_seconds * 2**(times ejected before)`` (capped), but never when that
would leave more than ``max_ejection_percent`` of the targets ejected: a degraded
upstream is still better than none. Active health checks (``health.py``) mark
targets unhealthy independently; when every target is unhealthy or ejected, all of
them are tried rather than none.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Sequence

from gateway.config.models import PassiveHealth


class TargetState:
    __slots__ = ("target", "in_flight", "failures", "ejected_until", "ejections", "active_healthy")

    def __init__(self, target) -> None:
        self.target = target
        self.in_flight = 0
        self.failures = 0
        self.ejected_until = 0.0
        self.ejections = 0
        self.active_healthy = True

    def available(self, now: float) -> bool:
        return self.active_healthy and self.ejected_until <= now


class Balancer:
    def __init__(self, targets: Sequence, policy: str, passive: PassiveHealth | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.states = tuple(TargetState(t) for t in targets)
        self.policy = policy
        self.passive = passive
        self.clock = clock
        self._cycle = itertools.cycle(self.states)

    def pick(self, exclude: Sequence[TargetState] = ()) -> TargetState:
        now = self.clock()
        candidates = [s for s in self.states if s.available(now) and s not in exclude]
        if not candidates:
            candidates = [s for s in self.states if s not in exclude] or list(self.states)
        if self.policy == "least_requests":
            return self._least_requests(candidates)
        return self._round_robin(candidates)

    def _round_robin(self, candidates: list[TargetState]) -> TargetState:
        if len(candidates) == len(self.states):
            return next(self._cycle)
        for _ in range(len(self.states)):
            state = next(self._cycle)
            if state in candidates:
                return state
        return candidates[0]

    @staticmethod
    def _least_requests(candidates: list[TargetState]) -> TargetState:
        if len(candidates) <= 2:
            return min(candidates, key=lambda s: s.in_flight)
        a, b = random.sample(candidates, 2)  # power of two choices
        return a if a.in_flight <= b.in_flight else b

    def record(self, state: TargetState, success: bool) -> None:
        if success:
            state.failures = 0
            return
        state.failures += 1
        passive = self.passive
        if passive is None or state.failures < passive.consecutive_failures:
            return
        now = self.clock()
        ejected = sum(1 for s in self.states if s.ejected_until > now)
        if (ejected + 1) * 100 > passive.max_ejection_percent * len(self.states):
            return
        seconds = min(passive.base_ejection_seconds * 2**state.ejections, passive.max_ejection_seconds)
        state.ejected_until = now + seconds
        state.ejections += 1
        state.failures = 0
