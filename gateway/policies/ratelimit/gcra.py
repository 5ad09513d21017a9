"""GCRA over several limits at once: all of them allow the request, or none counts it.

Why GCRA (the generic cell rate algorithm, as in redis-cell's ``CL.THROTTLE``):
- Kong's ``rate-limiting`` and Envoy's ratelimit service count in fixed windows (INCR +
  EXPIRE per period). Cheap, but a client may send twice the limit around a window
  boundary, and Kong reads then increments, so concurrent requests race past the limit.
- The ``limits`` library's moving window stores one entry per request (memory grows
  with the limit, 1000/hour = 1000 list items per key); its sliding-window counter is
  an approximation weighted over two fixed windows.
- GCRA keeps ONE number per key and limit, the theoretical arrival time (TAT), gives
  exact answers for "how many remain", "retry after" and "reset after", never lets more
  than ``burst`` through at once nor more than the rate over time, and needs no sweeper:
  a key is useless once its TAT is in the past, so it expires then.

Times are integer microseconds, so the Lua script (``gcra.lua``) and this module, which
the in-memory backend runs, compute the same thing. A limit holds ``burst`` requests,
refilled one per ``interval``; ``slack`` (1 µs) absorbs rounding of the TAT.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gateway.policies.ratelimit.backend import LimitState
from gateway.policies.ratelimit.limits import Limit

SLACK_US = 1


def evaluate(
    stored: Sequence[int | None], limits: Sequence[Limit], now_us: int, cost: int = 1
) -> tuple[tuple[LimitState, ...], list[int] | None]:
    """Per-limit states, and the new TATs to store when every limit allows (else None)."""
    tats = [max(tat or now_us, now_us) for tat in stored]
    new_tats = [round(tat + _interval_us(limit) * cost) for tat, limit in zip(tats, limits)]
    allowed = [_fits(new - now_us, limit) for new, limit in zip(new_tats, limits)]
    if all(allowed):
        states = [_state(limit, new - now_us, 0) for new, limit in zip(new_tats, limits)]
        return tuple(states), new_tats
    states = []
    for tat, new, ok, limit in zip(tats, new_tats, allowed, limits):
        wait = 0 if ok else new - _tolerance_us(limit) - now_us
        states.append(_state(limit, tat - now_us, wait))
    return tuple(states), None


def _state(limit: Limit, backlog_us: float, wait_us: float) -> LimitState:
    remaining = math.floor((_tolerance_us(limit) + SLACK_US - backlog_us) / _interval_us(limit))
    return LimitState(
        limit=limit,
        allowed=wait_us <= 0,
        remaining=max(0, remaining) if wait_us <= 0 else 0,
        reset_after=max(0.0, backlog_us / 1e6),
        retry_after=max(0.0, wait_us / 1e6),
    )


def _fits(backlog_us: float, limit: Limit) -> bool:
    return backlog_us <= _tolerance_us(limit) + SLACK_US


def _interval_us(limit: Limit) -> float:
    return limit.interval * 1e6


def _tolerance_us(limit: Limit) -> float:
    return _interval_us(limit) * limit.burst
