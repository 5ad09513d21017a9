"""On/off settings read from the environment: on unless set to off, false or 0."""

from __future__ import annotations

import os

OFF = frozenset({"off", "false", "0"})


def on(name: str) -> bool:
    return os.environ.get(name, "on").strip().lower() not in OFF
