"""Upstream pools: targets, balancing, circuit breaker, retry budget and admission.

All of it is built once per config load and kept per worker process.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from gateway.config.models import Upstream
from gateway.errors import ServiceUnavailable
from gateway.proxy.balancer import Balancer
from gateway.proxy.circuit import CircuitBreaker
from gateway.proxy.retry import RetryBudget
from gateway.proxy.urls import UpstreamUrls


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    base_path: str  # "" or "/base" without trailing slash
    host_header: str  # what Host says when the client's Host is not preserved
    urls: UpstreamUrls = field(compare=False, repr=False)

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        default = (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)
        host = parts.hostname or ""
        shown = f"[{host}]" if ":" in host else host
        return cls(
            scheme=parts.scheme,
            host=host,
            port=port,
            base_path=parts.path.rstrip("/"),
            host_header=shown if default else f"{shown}:{port}",
            urls=UpstreamUrls(parts.scheme, host, port),
        )

    def url(self, path: str, query: bytes) -> httpx.URL:
        if not query:
            return self.urls.url(self.base_path + path, None)
        visible = query if _VISIBLE.match(query) else _percent_encode_invalid(query)
        return self.urls.url(self.base_path + path, visible.decode("ascii"))


_VISIBLE = re.compile(rb"^[\x21-\x7e]*$")


def _percent_encode_invalid(query: bytes) -> bytes:
    """Bytes a query may not hold raw (controls, spaces, non-ASCII) become %XX; valid ones stay."""
    return b"".join(bytes([b]) if 0x21 <= b <= 0x7E else b"%%%02X" % b for b in query)


class CircuitOpen(ServiceUnavailable):
    default_detail = "The upstream service is failing; the gateway is not sending it requests for now."


class Overloaded(ServiceUnavailable):
    default_detail = "The upstream service has too many requests in flight; retry shortly."


class UpstreamPool:
    def __init__(self, name: str, config: Upstream, clock: Callable[[], float] = time.monotonic,
                 on_circuit_change: Callable[[str, int], None] | None = None) -> None:
        self.name = name
        self.config = config
        self.targets = tuple(Target.parse(t) for t in config.targets)
        self.balancer = Balancer(self.targets, config.load_balancing, config.health.passive, clock)
        retries = config.retries
        self.retry_methods = frozenset(retries.methods)
        self.retry_statuses = frozenset(retries.on_statuses)
        self.budget = RetryBudget(retries.budget_percent, retries.min_retries_per_second, clock)
        self.breaker = None
        if config.circuit_breaker is not None:
            notify = (lambda state: on_circuit_change(name, state)) if on_circuit_change else None
            self.breaker = CircuitBreaker(config.circuit_breaker, clock, notify)
        self.in_flight = 0
        t = config.timeouts
        self.timeout_dict = {"connect": t.connect, "read": t.read, "write": t.write, "pool": t.pool}

    def admit(self) -> None:
        """Count a request in, or refuse it at once (overloaded)."""
        limit = self.config.max_in_flight
        if limit is not None and self.in_flight >= limit:
            raise Overloaded(headers=[("Retry-After", "1")], reason="upstream_overloaded")
        self.in_flight += 1
        self.budget.record_request()

    def release(self) -> None:
        self.in_flight -= 1

    def circuit_allows(self) -> bool:
        return self.breaker is None or self.breaker.try_acquire()

    def circuit_open_error(self) -> CircuitOpen:
        wait = max(1, round(self.breaker.retry_after())) if self.breaker else 1
        return CircuitOpen(headers=[("Retry-After", str(wait))], reason="circuit_open")

    def record(self, state, success: bool) -> None:
        self.balancer.record(state, success)
        if self.breaker is not None:
            self.breaker.record(success)
