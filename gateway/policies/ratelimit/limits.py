"""Parsing limit strings such as ``"20/second"``, ``"1000/hour"`` or ``"5/10minutes;burst=10"``."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_ALIASES = {"s": "second", "sec": "second", "m": "minute", "min": "minute", "h": "hour",
            "hr": "hour", "d": "day", **{f"{unit}s": unit for unit in _UNITS}}
_SYNTAX = re.compile(
    r"^\s*(?P<count>\d+)\s*/\s*(?P<mult>\d+)?\s*(?P<unit>[a-z]+)"
    r"\s*(?:;\s*burst\s*=\s*(?P<burst>\d+)\s*)?$"
)
SYNTAX_HELP = (
    "expected '<count>/<unit>' with unit second, minute, hour or day, optionally "
    "'<count>/<n><unit>' and ';burst=<n>', e.g. '20/second', '1000/hour', '5/10minutes;burst=10'"
)


@dataclass(frozen=True, slots=True)
class Limit:
    """``count`` requests per ``period`` seconds; up to ``burst`` at once (default ``count``)."""

    count: int
    period: int
    burst: int
    text: str

    @property
    def name(self) -> str:
        """Short policy identifier for the RateLimit headers: ``1s``, ``10m``, ``1h``."""
        for letter, seconds in (("d", 86400), ("h", 3600), ("m", 60)):
            if self.period % seconds == 0:
                return f"{self.period // seconds}{letter}"
        return f"{self.period}s"

    @property
    def interval(self) -> float:
        """Seconds between two requests at the sustained rate (GCRA emission interval)."""
        return self.period / self.count

    def scaled(self, share: int) -> Limit:
        """This limit divided among ``share`` independent enforcers (at least 1 each)."""
        count, burst = max(1, self.count // share), max(1, self.burst // share)
        return Limit(count, self.period, burst, f"{self.text} / {share}")


def parse_limit(text: str) -> Limit:
    match = _SYNTAX.match(text.lower())
    unit = match and _ALIASES.get(match["unit"], match["unit"])
    if not match or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a rate limit: {SYNTAX_HELP}")
    count, mult = int(match["count"]), int(match["mult"] or 1)
    burst = int(match["burst"]) if match["burst"] else count
    if count < 1 or mult < 1 or burst < 1:
        raise ValueError(f"{text!r}: count, window and burst must be at least 1")
    return Limit(count=count, period=mult * _UNITS[unit], burst=burst, text=text.strip())
