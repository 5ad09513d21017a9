"""Observability hooks the proxy view calls: one place, wrapping the whole chain.

Interface (kept stable for the view):
- ``request_started(ctx)``: once per request, before routing decisions are acted on.
- ``request_finished(ctx, status, bytes_out)``: once per request, after the last byte
  was handed to the server (or the request failed). The span ends here; the metrics and
  the access lines of the requests finished within ``GATEWAY_RECORD_INTERVAL_MS``
  (default 20) are recorded together at its end.
- ``record_pending()``: record them now (before a scrape of ``/-/metrics``, at shutdown).
- ``rejected(ctx, error)``: a policy or the gateway answered with a ``GatewayError``.
- ``upstream_error(ctx, upstream, kind)``: kind in connect, timeout, protocol,
  circuit_open.
- ``upstream_call(ctx, method, url, headers)`` / ``upstream_call_done(span, status, error)``:
  around each upstream attempt (the client span; its ``traceparent`` joins ``headers``).
- ``traceresponse(ctx)``: the W3C ``traceresponse`` header value, or None.

Switches, read once at import: ``GATEWAY_METRICS=off``, ``GATEWAY_ACCESS_LOG=off``,
``OTEL_SDK_DISABLED=true``; each one off costs nothing on the request path.
``GATEWAY_RECORD_INTERVAL_MS=0`` records after each turn of the event loop instead.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING

from gateway import metrics, switches
from gateway import runtime as runtime_module
from observability import tracing as obs_tracing
from observability.logging import info_lines, request_id_var
from observability.metrics import observe_many

if TYPE_CHECKING:
    import httpx

    from gateway.context import RequestContext
    from gateway.errors import GatewayError


METRICS = metrics.ENABLED
ACCESS_LOG = switches.on("GATEWAY_ACCESS_LOG")
RECORD_INTERVAL = switches.record_interval()
TRACING = not obs_tracing.disabled()
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
access_logger = logging.getLogger("gateway.access")
if TRACING:
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace
    from opentelemetry.trace import DEFAULT_TRACE_STATE, SpanKind, Status, StatusCode

    from observability.lean_spans import parent_context

    _EMPTY = otel_context.Context()

_lean_tracer = None


def _tracer():
    """The lean tracer over the provider ``setup()`` installed (the API's tracer until then)."""
    global _lean_tracer
    if _lean_tracer is None:
        _lean_tracer = obs_tracing.lean_tracer("gateway")
        if _lean_tracer is None:
            return _ApiTracer()
    return _lean_tracer


class _ApiTracer:
    """``LeanTracer.start`` over whatever tracer the API gives (no SDK provider installed)."""

    def start(self, name: str, parent, kind, attributes: dict):
        return trace.get_tracer("gateway").start_span(name, parent_context(parent), kind, attributes)


def _method(ctx: RequestContext) -> str:
    method = ctx.request.method
    return method if method in METHODS else "OTHER"


def request_started(ctx: RequestContext) -> None:
    request_id_var.set(ctx.request_id)
    if METRICS:
        _pending.started += 1
        if _pending.timer is None:
            _pending.schedule()
    if TRACING:
        _start_server_span(ctx, _method(ctx))


def rejected(ctx: RequestContext, error: GatewayError) -> None:
    ctx.extra["rejected"] = error.reason
    if ctx.span is not None:
        ctx.span.add_event("gateway.rejected", {"gateway.reason": str(error.reason), "http.response.status_code": error.status_code})


def request_finished(ctx: RequestContext, status: int, bytes_out: int) -> None:
    extra = ctx.extra
    if extra.get("finished"):
        return
    extra["finished"] = True
    elapsed = time.perf_counter() - extra["start"]
    if ctx.span is not None and ctx.span.is_recording():  # not sampled: nothing to set
        _finish_server_span(ctx, status)
    if METRICS or ACCESS_LOG:
        _pending.finished.append((ctx, status, elapsed, bytes_out))
        if _pending.timer is None:
            _pending.schedule()


def record_pending() -> None:
    """Record the metrics and access lines waiting for the end of the interval now."""
    if _pending.timer is not None:
        _pending.record()


_NO_CONTEXT = contextvars.Context()  # the records carry their ids; nothing is read from here


class _Pending:
    """What the requests of the current interval left to record, recorded together at its
    end: one write of their access lines, one update per metric child, the in-flight
    gauge moved by the net change; their spans are encoded for export then too. Under
    load (one worker, 32 connections) ~60 requests finish in 20 ms, where ~11 finished in
    one turn of the event loop (5 on a rate-limited route, whose Redis replies split the
    turns): what a batch costs once (labels looked up, locks taken, a write) is shared by
    more requests."""

    __slots__ = ("started", "finished", "timer")

    def __init__(self) -> None:
        self.started = 0
        self.finished: list[tuple[RequestContext, int, float, int]] = []
        self.timer: asyncio.Handle | None = None

    def schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): now
            self.record()
            return
        if RECORD_INTERVAL:
            self.timer = loop.call_later(RECORD_INTERVAL, self.record, context=_NO_CONTEXT)
        else:
            self.timer = loop.call_soon(self.record, context=_NO_CONTEXT)

    def record(self) -> None:
        if self.timer is not None:
            self.timer.cancel()  # when called before its time
        started, finished = self.started, self.finished
        self.started, self.finished, self.timer = 0, [], None
        try:
            if METRICS:
                if started != len(finished):
                    metrics.IN_FLIGHT.inc(started - len(finished))
                _record(finished)
        finally:
            if ACCESS_LOG and finished:
                info_lines(access_logger, "access", [_access_fields(*record) for record in finished])
            if TRACING:  # the spans of these requests, while they are in the caches
                obs_tracing.encode_queued()


_pending = _Pending()


def _route(ctx: RequestContext) -> str:
    return ctx.route.name if ctx.route is not None else "unmatched"


def _record(batch: list[tuple[RequestContext, int, float, int]]) -> None:
    """One update per metric child (per bucket for histograms) for the whole batch: the
    requests are grouped by their labels first, their children looked up once a group."""
    groups: dict[tuple, list[RequestContext]] = {}
    counted: Counter = Counter()
    for record in batch:
        ctx = record[0]
        route = ctx.route
        key = (route.name if route is not None else "unmatched", ctx.request.method, record[1],
               ctx.upstream if ctx.upstream_ms is not None else None)
        group = groups.get(key)
        if group is None:
            groups[key] = [record]
        else:
            group.append(record)
        failure = ctx.extra.get("auth_failure")
        if failure is not None:
            counted[metrics.auth_failures.get(key[0], failure[0], str(failure[1]))] += 1
        if ctx.ratelimit is not None:
            counted[metrics.ratelimit.get(key[0], ctx.ratelimit)] += 1
    for (route, method, status, upstream), records in groups.items():
        method = method if method in METHODS else "OTHER"
        counted[metrics.requests.get(route, method, str(status))] += len(records)
        if metrics.EXEMPLARS:  # the exemplar of a bucket is made for the last sampled request in it
            observe_many(metrics.duration.get(route, method),
                         [(elapsed, ctx if _sampled(ctx) else None) for ctx, _, elapsed, _ in records], _exemplar)
        else:
            observe_many(metrics.duration.get(route, method), [(elapsed, None) for _, _, elapsed, _ in records])
        if upstream:
            observe_many(metrics.upstream_duration.get(route, upstream),
                         [(ctx.upstream_ms / 1000, None) for ctx, _, _, _ in records])
            _circuit(upstream)
    for child, count in counted.items():
        child.inc(count)


def _circuit(upstream: str) -> None:
    runtime = runtime_module.current()
    pool = runtime.pools.get(upstream) if runtime is not None else None
    if pool is not None and pool.breaker is not None:
        metrics.circuit_state(upstream, pool.breaker.state)


def _access_fields(ctx: RequestContext, status: int, elapsed: float, bytes_out: int) -> dict:
    trace_id = span_id = None
    if ctx.trace_context is not None:
        trace_id, span_id = ctx.trace_context[3:35], ctx.trace_context[36:52]
    identity = ctx.identity
    # milliseconds to the microsecond by int(): round(ms, 3) converts through a decimal
    # string, 0.26 us each
    return {  # the ids first: info_lines writes them where logging would
        "trace_id": trace_id, "span_id": span_id, "request_id": ctx.request_id,
        "event": "access", "route": _route(ctx), "method": ctx.request.method, "path": ctx.path,
        "status": status, "duration_ms": int(elapsed * 1e6 + 0.5) / 1000, "upstream": ctx.upstream,
        "upstream_status": ctx.upstream_status,
        "upstream_ms": None if ctx.upstream_ms is None else int(ctx.upstream_ms * 1000 + 0.5) / 1000,
        "bytes_out": bytes_out, "client_ip": ctx.client_ip,
        "consumer": identity.consumer if identity is not None else None,
        "ratelimit": ctx.ratelimit,
    }


def upstream_error(ctx: RequestContext, upstream: str, kind: str) -> None:
    if METRICS:
        metrics.upstream_errors.get(upstream, kind).inc()
        if kind == "circuit_open":
            metrics.circuit_state(upstream, 2)
    if ctx.span is not None:
        ctx.span.add_event("gateway.upstream_error", {"gateway.upstream": upstream, "error.type": kind})


TRACE_CONTEXT_HEADERS = frozenset({b"traceparent", b"tracestate"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def upstream_call(ctx: RequestContext, method: str, url: httpx.URL, headers: list[tuple[bytes, bytes]]):
    """The CLIENT span of one upstream attempt, its ``traceparent`` appended to ``headers``
    (the client's copy was dropped). It is not made current: nothing below opens spans.

    When the server span is not sampled no client span is made (it would record nothing):
    the upstream gets the server span's context, flags ``00``, so the trace stays one.
    """
    server = ctx.span
    if server is None:
        return None
    span = None
    if server.is_recording():
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
        span = _tracer().start(method, server.get_span_context(), SpanKind.CLIENT, {
            "http.request.method": method, "server.address": url.host, "server.port": port})
        sc = span.get_span_context()
        context = ctx.trace_context  # the server span's: the same trace id, formatted once
        headers.append((b"traceparent", _traceparent(sc, context[:36] if context else None).encode()))
    elif ctx.trace_context is not None:
        sc = server.get_span_context()
        headers.append((b"traceparent", ctx.trace_context.encode()))
    else:
        return None
    trace_state = sc[4]
    if trace_state is not DEFAULT_TRACE_STATE and trace_state:
        headers.append((b"tracestate", trace_state.to_header().encode("latin-1")))
    return span


def upstream_call_done(span, status: int | None, error: BaseException | None = None) -> None:
    """End the client span: the status line arrived (``status``) or the call failed."""
    if span is None:
        return
    if error is not None:
        span.set_attribute("error.type", type(error).__name__)
        span.set_status(Status(StatusCode.ERROR))
    else:
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
    span.end()


def traceresponse(ctx: RequestContext) -> str | None:
    """``00-<trace id>-<span id>-<flags>`` of the server span (W3C Trace Context Level 2)."""
    return ctx.trace_context


# --- the server span ------------------------------------------------------------------

_PROPAGATED = frozenset({b"traceparent", b"tracestate", b"baggage"})


def _carrier(ctx: RequestContext) -> dict[str, str] | None:
    """The trace headers to extract from, None without a ``traceparent`` (most requests:
    Django's ``META`` says so in one lookup; nothing is continued without one)."""
    meta = getattr(ctx.request, "META", None)
    if meta is not None and "HTTP_TRACEPARENT" not in meta:
        return None
    return {name.decode(): value.decode("latin-1")
            for name, value in ctx.request.scope["headers"] if name in _PROPAGATED} or None


def _start_server_span(ctx: RequestContext, method: str) -> None:
    """Continue a valid inbound ``traceparent`` (a malformed one yields a new trace)."""
    carrier = _carrier(ctx)
    parent = trace.get_current_span(propagate.extract(carrier)).get_span_context() if carrier else None
    route = ctx.route
    attributes = {"http.request.method": method, "url.path": ctx.path}  # few: each costs CPU to export
    if route is not None:
        attributes["http.route"] = route.prefix
        attributes["gateway.route"] = route.name
    name = f"{method} {_route(ctx)}"
    span = ctx.span = _tracer().start(name, parent, SpanKind.SERVER, attributes)
    # this request's task only; its context holds no other span (the parent came from
    # the headers), so the span goes into an empty one: reading the current costs 3 calls
    otel_context.attach(trace.set_span_in_context(span, _EMPTY))
    sc = span.get_span_context()
    if sc[5]:  # is_valid
        ctx.trace_context = _traceparent(sc)


def _traceparent(sc, head: str | None = None) -> str:
    """A span context as a W3C ``traceparent`` (also the ``traceresponse`` format);
    ``head``, when given, is its ``00-<trace id>-`` already formatted (the server span's,
    for its client span). ``to_bytes().hex()`` takes half the time of ``:032x`` formatting,
    on every request; the context is read as the tuple it is (trace id, span id, remote,
    flags, ...)."""
    trace_id, span_id, _, flags, _, _ = sc
    if head is None:
        head = f"00-{trace_id.to_bytes(16).hex()}-"
    return f"{head}{span_id.to_bytes(8).hex()}{_FLAGS[flags]}"


_FLAGS = tuple(f"-{flags:02x}" for flags in range(256))


def _finish_server_span(ctx: RequestContext, status: int) -> None:
    span = ctx.span
    span.set_attribute("http.response.status_code", status)
    if ctx.upstream:
        span.set_attribute("gateway.upstream", ctx.upstream)
    if ctx.identity is not None:
        span.set_attribute("enduser.id", ctx.identity.consumer)
        span.set_attribute("gateway.consumer", ctx.identity.consumer)
    if ctx.ratelimit is not None:
        span.set_attribute("gateway.ratelimit", ctx.ratelimit)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
        span.set_attribute("error.type", str(status))
    span.end()


def _sampled(ctx: RequestContext) -> bool:
    """Whether the request's trace is sampled: the last hex digit of its flags is odd."""
    context = ctx.trace_context
    return context is not None and context[-1] in "13579bdf"


def _exemplar(ctx: RequestContext) -> dict[str, str]:
    return {"trace_id": ctx.trace_context[3:35]}
