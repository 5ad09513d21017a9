"""The one place that configures the OpenTelemetry SDK (DESIGN.md section 7).

Call ``setup(service_name)`` after the server forked its workers: each worker gets its
own ``service.instance.id`` and its own exporter. Spans are exported in the background;
a dead collector only drops spans, with a warning.

How spans leave the process (``OBSERVABILITY_SPAN_EXPORT`` overrides):
- ``loop``, the gateway's default (set up inside its event loop, OTLP/HTTP): encoded in
  small slices on that loop and POSTed without blocking (``observability.loop_export``
  says why: the SDK's export thread fights the loop for the GIL).
- ``thread``, everyone else's default: the SDK's ``BatchSpanProcessor``.
- ``process``: a child exporter process per worker (``ProcessSpanProcessor``), which
  keeps the encoding off the worker's core when the machine has a spare one.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
import uuid
from importlib import metadata

from opentelemetry.sdk.trace import SpanProcessor

import observability

logger = logging.getLogger("observability.tracing")
_done = False

_DEFAULTS = {
    "OTEL_SEMCONV_STABILITY_OPT_IN": "http",
    "OTEL_BSP_EXPORT_TIMEOUT": "2000",
    "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
    "OTEL_PROPAGATORS": "tracecontext,baggage",
}

# (module to import, instrumentor class); Django is instrumented only for services.
_INSTRUMENTATIONS = (
    ("opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor"),
    ("opentelemetry.instrumentation.redis", "RedisInstrumentor"),
    ("opentelemetry.instrumentation.psycopg", "PsycopgInstrumentor"),
    ("opentelemetry.instrumentation.celery", "CeleryInstrumentor"),
)
_DJANGO = ("opentelemetry.instrumentation.django", "DjangoInstrumentor")


def disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def setup(service_name: str, *, own_http_spans: bool | None = None) -> None:
    """Configure tracing once per process; a no-op when ``OTEL_SDK_DISABLED=true``.

    ``own_http_spans`` (default: True only for the gateway) skips the Django and httpx
    instrumentations: the gateway opens its own server span around the whole policy
    chain and its own client span around the proxy transport.
    """
    global _done
    observability.remember_service(service_name)
    if _done or disabled():
        return
    _done = True
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    if own_http_spans is None:
        own_http_spans = service_name == "gateway"
    _install_provider(service_name, _export_mode(own_http_spans))
    _install_propagators()
    if own_http_spans:
        # A Redis client span per rate-limit decision cost ~15% of the gateway's throughput
        # (profiled); the decision is an attribute of the server span. Set the variable
        # (even empty) to trace the gateway's Redis calls too.
        os.environ.setdefault("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "redis")
    _instrument(_INSTRUMENTATIONS[1:] if own_http_spans else _INSTRUMENTATIONS + (_DJANGO,))
    if not own_http_spans and importlib.util.find_spec("opentelemetry.instrumentation.asgi") is None:
        logger.warning("opentelemetry-instrumentation-asgi is missing: Django under ASGI makes no server spans")


def lean_tracer(name: str):
    """A ``LeanTracer`` (``observability.lean_spans``) over the SDK provider in place, or
    None while there is none (before ``setup()``, or tracing disabled)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from observability.lean_spans import LeanTracer

    provider = trace.get_tracer_provider()
    return LeanTracer(provider, name) if isinstance(provider, TracerProvider) else None


def _resource(service_name: str):
    from opentelemetry.sdk.resources import Resource

    class HashedResource(Resource):
        """The OTLP encoder groups every span by its resource: the SDK's ``__hash__``
        JSON-dumps the attributes each time (profiled: ~6 us per exported span). A
        resource is immutable, so its hash is computed once."""

        def __init__(self, attributes, schema_url=None) -> None:
            super().__init__(attributes, schema_url)
            self._hash = super().__hash__()

        def __hash__(self) -> int:
            return self._hash

    created = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME", service_name),
            "service.version": _version(),
            "service.instance.id": f"{os.getpid()}-{uuid.uuid4().hex[:12]}",
        }
    )
    return HashedResource(created.attributes, created.schema_url)


def _version() -> str:
    try:
        return metadata.version("django-edge-gateway")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _protocol() -> str:
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"))


def _export_mode(own_http_spans: bool) -> str:
    """``loop`` for the gateway (set up inside its event loop, OTLP/HTTP), else ``thread``;
    ``OBSERVABILITY_SPAN_EXPORT`` (thread, process, loop) overrides."""
    chosen = os.environ.get("OBSERVABILITY_SPAN_EXPORT")
    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    if chosen == "loop" or (chosen is None and own_http_spans and in_loop and _protocol() == "http/protobuf"):
        return "loop" if in_loop else "thread"
    return chosen if chosen in ("thread", "process") else "thread"


_loop_processor = None


def _install_provider(service_name: str, mode: str) -> None:
    global _loop_processor
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = _resource(service_name)
    provider = TracerProvider(resource=resource)  # sampler from OTEL_TRACES_SAMPLER
    if mode == "loop":
        from observability.loop_export import LoopSpanProcessor

        _loop_processor = LoopSpanProcessor(asyncio.get_running_loop())
        provider.add_span_processor(_loop_processor)
    elif mode == "process":
        provider.add_span_processor(ProcessSpanProcessor(dict(resource.attributes)))
    else:
        provider.add_span_processor(BatchSpanProcessor(_exporter()))
    trace.set_tracer_provider(provider)


def encode_queued() -> None:
    """Encode the finished spans waiting for export now (loop export only)."""
    if _loop_processor is not None:
        _loop_processor.encode_queued()


async def aclose() -> None:
    """On the serving loop's shutdown: send the spans still queued (loop export only)."""
    if _loop_processor is not None:
        await _loop_processor.aclose(int(os.environ.get("OTEL_BSP_EXPORT_TIMEOUT", "2000")) / 1000)


def _exporter():
    if _protocol() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
    return OTLPSpanExporter()


def _install_propagators() -> None:
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagate import set_global_textmap
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]))


def _instrument(specs) -> None:
    """Each instrumentation whose library is present, minus the standard
    ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` list (``redis,celery``, ...)."""
    disabled = {n.strip() for n in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")}
    for module_name, class_name in specs:
        if module_name.rsplit(".", 1)[-1] in disabled:
            continue
        try:
            module = importlib.import_module(module_name)
            instrumentor = getattr(module, class_name)()
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument()
        except Exception as exc:  # noqa: BLE001 - a missing library only loses its spans
            logger.debug("instrumentation %s skipped: %s", class_name, exc)


# --- export in a child process -----------------------------------------------------------

_HEADER = struct.Struct("!I")


def _compact(span) -> tuple:
    """A finished span as plain, cheaply pickled values."""
    ctx, parent, status = span.context, span.parent, span.status
    return (span.name, ctx.trace_id, ctx.span_id, int(ctx.trace_flags),
            (parent.span_id, parent.is_remote) if parent is not None else None, span.kind.value,
            span.start_time, span.end_time, dict(span.attributes or ()),
            [(e.name, dict(e.attributes or ()), e.timestamp) for e in span.events],
            status.status_code.value, status.description, span.instrumentation_scope.name)


class ProcessSpanProcessor(SpanProcessor):
    """Queues compact spans (dropping beyond ``OTEL_BSP_MAX_QUEUE_SIZE``); a thread pipes them
    in batches to ``python -c ...export_child()``, which rebuilds and exports them."""

    def __init__(self, resource: dict) -> None:
        self.max_queue = int(os.environ.get("OTEL_BSP_MAX_QUEUE_SIZE", "2048"))
        self.delay = int(os.environ.get("OTEL_BSP_SCHEDULE_DELAY", "1000")) / 1000
        self.pending: list[tuple] = []
        self.dropped = 0
        self.wake = threading.Event()
        self.closed = False
        code = "from observability.tracing import export_child; export_child()"
        self.child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
        self._send(resource)
        self.thread = threading.Thread(target=self._loop, name="span-export", daemon=True)
        self.thread.start()

    def on_start(self, span, parent_context=None) -> None:
        return None

    def on_end(self, span) -> None:
        if len(self.pending) < self.max_queue:
            self.pending.append(_compact(span))
        else:
            self.dropped += 1

    def _loop(self) -> None:
        while not self.closed:
            self.wake.wait(self.delay)
            self.wake.clear()
            self._flush()

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        if batch and not self._send(batch):
            self.closed = True

    def _send(self, payload) -> bool:
        try:
            data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
            self.child.stdin.write(_HEADER.pack(len(data)) + data)
            self.child.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            logger.warning("the span exporter process is gone: spans are dropped")
            return False

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._flush()
        return True

    def shutdown(self) -> None:
        self.closed = True
        self.wake.set()
        self._flush()
        try:
            self.child.stdin.close()
            self.child.wait(int(os.environ.get("OTEL_BSP_EXPORT_TIMEOUT", "2000")) / 1000 + 1)
        except (OSError, subprocess.TimeoutExpired):
            self.child.kill()


def _read(stream):
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    return pickle.loads(stream.read(_HEADER.unpack(header)[0]))


def export_child() -> None:
    """The child's loop: rebuild spans, export with the configured OTLP exporter, until EOF."""
    import signal

    from opentelemetry.sdk.resources import Resource

    for number in (signal.SIGTERM, signal.SIGINT):  # the worker's group gets these: we end on EOF
        signal.signal(number, signal.SIG_IGN)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(), stream=sys.stderr)
    stream = sys.stdin.buffer
    resource = Resource(_read(stream) or {})
    exporter = _exporter()
    while (batch := _read(stream)) is not None:
        exporter.export([_rebuild(values, resource) for values in batch])
    exporter.shutdown()


def _rebuild(values: tuple, resource):
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    (name, trace_id, span_id, flags, parent, kind, start, end, attributes, events,
     code, description, scope) = values
    context = SpanContext(trace_id, span_id, False, TraceFlags(flags))
    parent_context = SpanContext(trace_id, parent[0], parent[1], TraceFlags(flags)) if parent else None
    return ReadableSpan(
        name=name, context=context, parent=parent_context, resource=resource, attributes=attributes,
        events=[Event(n, a, t) for n, a, t in events], kind=SpanKind(kind),
        status=Status(StatusCode(code), description), start_time=start, end_time=end,
        instrumentation_scope=InstrumentationScope(scope),
    )
