"""RED metrics for the demo services' Django projects.

Add ``"observability.django.RedMetricsMiddleware"`` to ``MIDDLEWARE`` (first) and
``path("metrics", metrics_view)`` to the URLconf. ``route`` is the resolver's route
pattern (``api/orders/<int:pk>/``), never the raw path; ``unmatched`` otherwise.
"""

from __future__ import annotations

import os
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpResponse
from prometheus_client import Counter, Histogram

import observability
from observability.metrics import DURATION_BUCKETS, render

REQUESTS = Counter(
    "http_server_requests_total", "HTTP requests served.", ["service", "method", "route", "status"]
)
DURATION = Histogram(
    "http_server_request_duration_seconds", "HTTP request duration in seconds.",
    ["service", "method", "route"], buckets=DURATION_BUCKETS,
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _service() -> str:
    return os.environ.get("OTEL_SERVICE_NAME") or observability.SERVICE_NAME or "django"


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    return (match.route or match.view_name or "unmatched") if match else "unmatched"


class RedMetricsMiddleware:
    """Counts and times every request; natively async under ASGI, sync under WSGI."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.service = _service()
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        self._record(request, response.status_code, started)
        return response

    async def _acall(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        self._record(request, response.status_code, started)
        return response

    def _record(self, request, status: int, started: float) -> None:
        method = request.method if request.method in _METHODS else "OTHER"
        route = _route(request)
        REQUESTS.labels(self.service, method, route, str(status)).inc()
        DURATION.labels(self.service, method, route).observe(time.perf_counter() - started)


def metrics_view(request) -> HttpResponse:
    body, content_type = render(request.headers.get("accept", ""))
    return HttpResponse(body, content_type=content_type)
