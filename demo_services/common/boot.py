"""Process entry helpers: observability setup for ASGI servers and Celery workers."""

from __future__ import annotations

from observability import logging as obs_logging
from observability import tracing


def observe(name: str) -> None:
    obs_logging.setup(name)
    tracing.setup(name)
