"""Real backing services: present on our machines and in CI; absent on some laptops.

Under ``CI=true`` a missing service fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from typing import NoReturn

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES = ("127.0.0.1", 5432)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    _missing(f"{name} is not reachable at {host}:{port}", "services")


def _missing(message: str, kind: str) -> NoReturn:
    """Skip on a laptop that lacks it; under ``CI=true`` fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: {kind} must be present)")
    pytest.skip(message)


def require_redis() -> str:
    require("Redis", "127.0.0.1", 6379)
    return REDIS_URL


def require_postgres() -> None:
    require("PostgreSQL", *POSTGRES)


def require_tool(name: str) -> str:
    """A Debian tool (prometheus, promtool): skip on a laptop without it, fail under CI."""
    path = shutil.which(name)
    if path:
        return path
    _missing(f"{name} is not installed (Debian: apt-get install prometheus; or `make system-deps`)", "tools")


def require_linux(why: str) -> None:
    """A check that reads Linux-only kernel state: skip elsewhere, fail under CI."""
    if sys.platform != "linux":
        _missing(f"not Linux: {why}", "a Linux kernel")
