"""Settings read from the environment: on/off switches (on unless set to off, false or 0)
and durations."""

from __future__ import annotations

import math
import os

OFF = frozenset({"off", "false", "0"})


def on(name: str) -> bool:
    return os.environ.get(name, "on").strip().lower() not in OFF


def milliseconds(name: str, default: int) -> float:
    """A duration given in milliseconds (0 or more), in seconds."""
    value = os.environ.get(name, "").strip() or str(default)
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not (number >= 0 and math.isfinite(number)):
        raise ValueError(f"{name}={value!r}: expected a number of milliseconds, 0 or more")
    return number / 1000


def record_interval() -> float:
    """``GATEWAY_RECORD_INTERVAL_MS`` (default 20), in seconds: how long the metrics and
    access lines of finished requests wait to be recorded together."""
    return milliseconds("GATEWAY_RECORD_INTERVAL_MS", 20)
