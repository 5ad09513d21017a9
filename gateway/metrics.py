"""Every gateway metric, defined once (DESIGN.md section 6), and the ``/-/metrics`` body.

Label values are route and upstream *names* from the config (``unmatched`` when no route
matched), never raw paths, so cardinality is bounded by the config. Label children are
cached per key: the hot path does one dict lookup per metric.

With ``PROMETHEUS_MULTIPROC_DIR`` set (the launcher does it) every worker writes to
memory-mapped files and a scrape sums them: totals are exact across workers. Gauges use
``livesum``/``livemax`` so values of dead workers are dropped once they are marked dead
(``observability.metrics.sweep_dead_workers`` runs on each scrape). Exemplars are only
stored in single-process mode (a prometheus_client limitation), which a gateway with one
worker (``--workers 1``) uses automatically.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata

import django
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from gateway import switches
from observability import metrics as shared
from observability.metrics import DURATION_BUCKETS

shared.use_single_process(os.environ.get("GATEWAY_WORKERS"))
ENABLED = switches.on("GATEWAY_METRICS")
EXEMPLARS = not shared.multiprocess()

REQUESTS = Counter("gateway_requests_total", "Requests answered by the gateway.",
                   ["route", "method", "status_code"])
DURATION = Histogram("gateway_request_duration_seconds", "Time from request start to last byte.",
                     ["route", "method"], buckets=DURATION_BUCKETS)
UPSTREAM_DURATION = Histogram("gateway_upstream_duration_seconds", "Upstream response time (headers).",
                              ["route", "upstream"], buckets=DURATION_BUCKETS)
UPSTREAM_ERRORS = Counter("gateway_upstream_errors_total", "Failed upstream calls.", ["upstream", "kind"])
AUTH_FAILURES = Counter("gateway_auth_failures_total", "Requests refused by an auth policy.",
                        ["route", "policy", "reason"])
RATELIMIT = Counter("gateway_ratelimit_decisions_total", "Rate-limit decisions.", ["route", "decision"])
IN_FLIGHT = Gauge("gateway_requests_in_flight", "Requests being handled.", multiprocess_mode="livesum")
CIRCUIT = Gauge("gateway_circuit_state", "Circuit breaker state (0 closed, 1 half-open, 2 open), worst worker.",
                ["upstream"], multiprocess_mode="livemax")
BUILD = Gauge("gateway_build_info", "Build information.", ["version", "python", "django"],
              multiprocess_mode="max")
JWKS_REFRESH = Counter("gateway_jwks_refresh_total", "JWKS refresh attempts.", ["result"])


def _version() -> str:
    try:
        return metadata.version("django-edge-gateway")
    except metadata.PackageNotFoundError:
        return "0.0.0"


BUILD.labels(_version(), platform.python_version(), django.get_version()).set(1)


class _Children:
    """Label children by key, created on first use (metric.labels() parses kwargs each call)."""

    __slots__ = ("metric", "cache")

    def __init__(self, metric) -> None:
        self.metric = metric
        self.cache: dict[tuple, object] = {}

    def get(self, *key: str):
        child = self.cache.get(key)
        if child is None:
            child = self.cache[key] = self.metric.labels(*key)
        return child


requests = _Children(REQUESTS)
duration = _Children(DURATION)
upstream_duration = _Children(UPSTREAM_DURATION)
upstream_errors = _Children(UPSTREAM_ERRORS)
auth_failures = _Children(AUTH_FAILURES)
ratelimit = _Children(RATELIMIT)
circuit = _Children(CIRCUIT)
_circuit_seen: dict[str, int] = {}


def circuit_state(upstream: str, state: int) -> None:
    if _circuit_seen.get(upstream) != state:
        _circuit_seen[upstream] = state
        circuit.get(upstream).set(state)


def jwks_refreshed(result: str) -> None:
    if ENABLED:
        JWKS_REFRESH.labels(result).inc()


class JwksAgeCollector:
    """``gateway_jwks_age_seconds{url}`` from the serving worker's caches, at scrape time."""

    def collect(self):
        from gateway.auth.jwks import live_caches

        family = GaugeMetricFamily("gateway_jwks_age_seconds", "Age of the serving JWKS key set.",
                                   labels=["url"])
        ages: dict[str, float] = {}
        for cache in live_caches():
            age = cache.age_seconds()
            if age is not None:
                ages[cache.url] = max(age, ages.get(cache.url, 0.0))
        for url, age in sorted(ages.items()):
            family.add_metric([url], age)
        yield family


shared.add_scrape_collector(JwksAgeCollector())


def render(accept: str = "") -> tuple[bytes, str]:
    shared.sweep_dead_workers()
    return shared.render(accept)
