"""Real backing services: present on our machines and in CI; absent on some laptops.

Under ``CI=true`` a missing service fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import socket

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
    message = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: services must be present)")
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
    message = f"{name} is not installed (Debian: apt-get install prometheus; or `make system-deps`)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: tools must be present)")
    pytest.skip(message)
