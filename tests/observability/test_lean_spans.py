"""The gateway's lean spans export what the SDK's spans would, under the same provider."""

from __future__ import annotations

import itertools
import random

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import (ALWAYS_OFF, ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult,
                                              TraceIdRatioBased)
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from observability.lean_spans import LeanTracer
from observability.span_encoding import encode

REMOTE = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, True, TraceFlags(1),
                     TraceState([("vendor", "v1")]))


class CountingIds(IdGenerator):
    """The same ids, in the same order, for both tracers."""

    def __init__(self) -> None:
        self.numbers = itertools.count(1)

    def generate_span_id(self) -> int:
        return next(self.numbers)

    def generate_trace_id(self) -> int:
        return 0xABC000 + next(self.numbers)

    def is_trace_id_random(self) -> bool:
        return True


def _provider(**kwargs) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "gateway"}), id_generator=CountingIds(),
                              **kwargs)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _request(tracer, parent=None) -> None:
    """What the gateway does with one request, plus the API calls it does not make."""
    server = tracer.start_span("GET users", parent, SpanKind.SERVER,
                               {"http.request.method": "GET", "url.path": "/api/users/" + "x" * 40})
    token = otel_context.attach(trace.set_span_in_context(server))
    try:
        client = tracer.start_span("GET", None, SpanKind.CLIENT, {"server.address": "127.0.0.1", "server.port": 80})
        client.set_attribute("http.response.status_code", 503)
        client.set_status(Status(StatusCode.ERROR))
        client.end()
        client.set_attribute("after.end", "ignored")
        server.add_event("gateway.upstream_error", {"gateway.upstream": "users", "error.type": "timeout"})
        server.add_event("gateway.rejected", {"gateway.reason": "x"})
        server.add_event("third")
        server.set_attributes({"gateway.consumer": "alice", "n": 1, "ok": True, "tags": ("a", "b"), "none": None})
        server.set_status(StatusCode.UNSET)
        server.set_status(StatusCode.ERROR, "upstream failed")
        server.update_name("GET users!")
        try:
            raise ValueError("boom")
        except ValueError as exc:
            server.record_exception(exc, {"extra": 1}, timestamp=5)
        ok = tracer.start_span("ok")
        ok.set_status(Status(StatusCode.OK))
        ok.set_status(Status(StatusCode.ERROR, "too late"))
        ok.add_link(REMOTE, {"why": "batch"})
        ok.end()
    finally:
        otel_context.detach(token)
    server.end()
    server.end()


def _exported(make_tracer, parent=None, **provider_kwargs) -> list:
    provider, exporter = _provider(**provider_kwargs)
    _request(make_tracer(provider), parent)
    finished = exporter.get_finished_spans()
    request = encode_spans(finished)
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                span.start_time_unix_nano = span.end_time_unix_nano = 0
                for event in span.events:
                    event.time_unix_nano = event.time_unix_nano if event.time_unix_nano == 5 else 0
                    for attribute in event.attributes:
                        if attribute.key == "exception.stacktrace":  # names the calling frame
                            attribute.value.string_value = attribute.value.string_value.count("\n") * "\n"
    return request, [span.context.trace_flags for span in finished]  # OTLP leaves out the W3C flags


SDK = lambda provider: provider.get_tracer("gateway")  # noqa: E731
LEAN = lambda provider: LeanTracer(provider, "gateway")  # noqa: E731


@pytest.mark.parametrize("limits", [None, SpanLimits(max_span_attributes=5, max_events=2, max_event_attributes=1, max_attribute_length=8)],
                         ids=["default-limits", "tight-limits"])
@pytest.mark.parametrize("parent", [None, REMOTE], ids=["root", "remote-parent"])
def test_lean_spans_export_what_sdk_spans_export(limits, parent):
    kwargs = {"span_limits": limits} if limits else {}
    context = trace.set_span_in_context(NonRecordingSpan(parent)) if parent else None
    sdk, lean = _exported(SDK, context, **kwargs), _exported(LEAN, context, **kwargs)
    assert len(sdk[0].resource_spans[0].scope_spans[0].spans) == 3
    assert lean == sdk


def test_our_encoder_takes_lean_spans():
    provider, exporter = _provider()
    _request(LEAN(provider))
    spans = exporter.get_finished_spans()
    assert encode(spans) == encode_spans(spans).SerializeToString()


def test_the_provider_sampler_decides_and_an_unsampled_parent_is_followed():
    provider, exporter = _provider(sampler=ParentBased(TraceIdRatioBased(0.0)))
    tracer = LEAN(provider)
    dropped = tracer.start_span("GET users", None, SpanKind.SERVER)
    assert not dropped.is_recording() and not dropped.get_span_context().trace_flags.sampled
    unsampled_parent = trace.set_span_in_context(NonRecordingSpan(
        SpanContext(REMOTE.trace_id, REMOTE.span_id, True, TraceFlags(0))))
    child = tracer.start_span("GET users", unsampled_parent, SpanKind.SERVER)
    assert not child.is_recording() and child.get_span_context().trace_id == REMOTE.trace_id
    sampled = tracer.start_span("GET users", trace.set_span_in_context(NonRecordingSpan(REMOTE)), SpanKind.SERVER)
    sampled.end()
    assert [s.name for s in exporter.get_finished_spans()] == ["GET users"]


def test_sdk_spans_started_under_a_current_lean_span_are_its_children():
    provider, exporter = _provider()
    server = LEAN(provider).start_span("GET users", None, SpanKind.SERVER)
    with trace.use_span(server, end_on_exit=True):
        with provider.get_tracer("redis").start_as_current_span("EVALSHA"):
            pass
    redis, finished = exporter.get_finished_spans()
    assert redis.parent.span_id == finished.context.span_id == server.get_span_context().span_id
    assert redis.context.trace_id == server.get_span_context().trace_id


class SeededIds(IdGenerator):
    def __init__(self) -> None:
        self.random = random.Random(7)

    def generate_span_id(self) -> int:
        return self.random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self.random.getrandbits(128) or 1


def _parents(random_ids: random.Random) -> list:
    """No parent, then remote and local parents, sampled or not, some with a tracestate."""
    parents = [None]
    for remote, flags, state in itertools.product((True, False), (0, 1), ((), (("vendor", "v1"),))):
        span_context = SpanContext(random_ids.getrandbits(128) or 1, random_ids.getrandbits(64) or 1, remote,
                                   TraceFlags(flags), TraceState(list(state)))
        parents.append(trace.set_span_in_context(NonRecordingSpan(span_context)))
    return parents


@pytest.mark.parametrize("sampler, sampled", [
    (ParentBased(TraceIdRatioBased(0.3)), range(80, 160)), (TraceIdRatioBased(0.3), range(80, 160)),
    (ParentBased(ALWAYS_OFF), [0]), (ALWAYS_OFF, [0]), (ParentBased(ALWAYS_ON), [400]),
    (ParentBased(ALWAYS_ON, remote_parent_not_sampled=ALWAYS_ON, local_parent_sampled=TraceIdRatioBased(0.5),
                 remote_parent_sampled=ALWAYS_OFF), [400]),
], ids=["parentbased-ratio", "ratio", "parentbased-off", "off", "parentbased-on", "parentbased-custom"])
def test_spans_are_sampled_exactly_as_the_sdk_samples_them(sampler, sampled):
    """The lean tracer decides the SDK's own samplers without asking them: the same ids
    and parents get the same decisions, flags and tracestate as under the SDK's tracer."""
    decisions = []
    for make_tracer in (SDK, LEAN):
        tracer = make_tracer(TracerProvider(sampler=sampler, id_generator=SeededIds()))
        spans = [tracer.start_span("GET users", parent, SpanKind.SERVER)
                 for parent in _parents(random.Random(3)) * 400]
        decisions.append([(s.get_span_context(), s.is_recording()) for s in spans])
    assert decisions[0] == decisions[1]
    new_traces = decisions[0][::9]
    assert sum(c.trace_flags.sampled for c, _ in new_traces) in sampled


class TaggingSampler(Sampler):
    """Not one of the SDK's samplers: the lean tracer has to ask it."""

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        decision = (Decision.RECORD_AND_SAMPLE if trace_id % 3 else
                    Decision.RECORD_ONLY if trace_id % 2 else Decision.DROP)
        return SamplingResult(decision, {**(attributes or {}), "sampler.tag": "t"}, TraceState([("s", "1")]))

    def get_description(self) -> str:
        return "tagging"


def test_any_other_sampler_is_asked_and_its_result_kept():
    """Its decision (record-only too), attributes and tracestate, as the SDK tracer keeps them."""
    recorded = []
    for make_tracer in (SDK, LEAN):
        tracer = make_tracer(TracerProvider(sampler=TaggingSampler(), id_generator=SeededIds()))
        spans = [tracer.start_span("GET users", None, SpanKind.SERVER, {"http.route": "/u"}) for _ in range(60)]
        recorded.append([(s.get_span_context(), s.is_recording(), dict(s.attributes) if s.is_recording() else None)
                         for s in spans])
    assert recorded[0] == recorded[1]
    assert {(c.trace_flags.sampled, recording) for c, recording, _ in recorded[0]} == {
        (True, True), (False, True), (False, False)}
    assert all(a == {"http.route": "/u", "sampler.tag": "t"} for _, recording, a in recorded[0] if recording)


class ParentRecordingSampler(Sampler):
    """Samples everything and notes the parent span context it was shown."""

    def __init__(self) -> None:
        self.parents: list = []

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        self.parents.append(trace.get_current_span(parent_context).get_span_context())
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "parent-recording"


def test_a_sampler_is_shown_the_parent_given_to_start_not_the_current_span():
    """The gateway passes the parent (the inbound traceparent, or none) to ``start``."""
    sampler = ParentRecordingSampler()
    tracer = LEAN(TracerProvider(sampler=sampler, id_generator=SeededIds()))
    current = tracer.start("current", None)
    token = otel_context.attach(trace.set_span_in_context(current))
    try:
        continued = tracer.start("GET users", REMOTE, SpanKind.SERVER)
        new_trace = tracer.start("GET users", None, SpanKind.SERVER)
    finally:
        otel_context.detach(token)
    assert sampler.parents[1] == REMOTE and continued.get_span_context().trace_id == REMOTE.trace_id
    assert not sampler.parents[2].is_valid
    assert new_trace.get_span_context().trace_id != current.get_span_context().trace_id
