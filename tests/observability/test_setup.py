"""The shared package in isolation: Django RED middleware, tracing and logging set-up."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import ResolverMatch
from prometheus_client import REGISTRY

from observability.django import RedMetricsMiddleware, metrics_view
from tests.support.gateway import ROOT

ROUTE = "api/orders/<int:pk>/"


def _view(request):
    request.resolver_match = ResolverMatch(_view, (), {"pk": 7}, route=ROUTE)
    return HttpResponse(status=201)


async def _async_view(request):
    return _view(request)


def _count(method: str, status: str) -> float:
    labels = {"service": "django", "method": method, "route": ROUTE, "status": status}
    return REGISTRY.get_sample_value("http_server_requests_total", labels) or 0.0


def test_red_middleware_records_route_patterns_sync_and_async():
    before = _count("POST", "201")
    RedMetricsMiddleware(_view)(RequestFactory().post("/api/orders/7/"))
    middleware = RedMetricsMiddleware(_async_view)
    assert asyncio.iscoroutinefunction(middleware)
    asyncio.run(middleware(RequestFactory().post("/api/orders/8/")))
    assert _count("POST", "201") == before + 2
    labels = {"service": "django", "method": "POST", "route": ROUTE}
    assert REGISTRY.get_sample_value("http_server_request_duration_seconds_count", labels) >= 2
    body = metrics_view(RequestFactory().get("/metrics")).content.decode()
    assert f'route="{ROUTE}"' in body and "/api/orders/7/" not in body


def _run(code: str, **env: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


SETUP = """
from opentelemetry import trace
from observability import tracing
tracing.setup("svc"); tracing.setup("svc")
provider = trace.get_tracer_provider()
print(type(provider).__name__, dict(getattr(provider, "resource", None).attributes) if hasattr(provider, "resource") else {})
"""


def test_tracing_setup_is_idempotent_and_sets_the_resource():
    out = _run(SETUP, OTEL_SDK_DISABLED="false", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    name, attributes = out.split(" ", 1)
    assert name == "TracerProvider"
    assert "'service.name': 'svc'" in attributes and "service.instance.id" in attributes


def test_tracing_setup_honours_otel_sdk_disabled_and_grpc():
    assert _run(SETUP, OTEL_SDK_DISABLED="true").startswith("ProxyTracerProvider")
    grpc = _run("from observability import tracing; print(type(tracing._exporter()).__module__)",
                OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
    assert "grpc" in grpc


LOG = """
import logging
from observability import logging as obs, tracing
from opentelemetry import trace
tracing.setup("svc")
obs.setup("svc")
with trace.get_tracer("t").start_as_current_span("s") as span:
    logging.getLogger("app").warning("hello %s", "world", extra={"order": 3})
    print("TRACE", format(span.get_span_context().trace_id, "032x"))
"""


def test_log_lines_carry_the_active_trace():
    out = _run(LOG, OTEL_SDK_DISABLED="false", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", LOG_FORMAT="json")
    lines = out.strip().splitlines()
    trace_line = next(x for x in lines if x.startswith("TRACE "))
    record = next(json.loads(x) for x in lines if x.startswith("{") and '"app"' in x)
    assert record["trace_id"] == trace_line.split()[1] and len(record["span_id"]) == 16
    assert (record["message"], record["order"], record["service"], record["level"]) == ("hello world", 3, "svc", "WARNING")
    console = _run(LOG, OTEL_SDK_DISABLED="false", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
                   LOG_FORMAT="console")
    assert "WARNING" in console and "hello world" in console and not console.startswith("{")


REDIS_TRACED = """
from opentelemetry.instrumentation.redis import RedisInstrumentor
from observability import tracing
tracing.setup({name!r})
print(RedisInstrumentor().is_instrumented_by_opentelemetry)
"""


def _redis_traced(service: str, **env: str) -> bool:
    base = {k: v for k, v in os.environ.items() if k != "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"}
    base.update(OTEL_SDK_DISABLED="false", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", **env)
    result = subprocess.run([sys.executable, "-c", REDIS_TRACED.format(name=service)], cwd=ROOT,
                            capture_output=True, text=True, env=base, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip() == "True"


def test_redis_calls_are_traced_in_services_not_in_the_gateway_unless_asked():
    assert _redis_traced("orders")
    assert not _redis_traced("gateway")  # a span per rate-limit decision: see tracing.setup
    assert _redis_traced("gateway", OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="")
    assert not _redis_traced("orders", OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="celery,redis")
