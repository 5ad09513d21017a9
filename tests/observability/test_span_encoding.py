"""Our OTLP span encoding gives the official encoder's request, message for message."""

from __future__ import annotations

import enum

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from observability.lean_spans import LeanTracer
from observability import span_encoding
from observability.span_encoding import encode


class Level(enum.IntEnum):
    HIGH = 3


def _provider(service: str, exporter: InMemorySpanExporter, **kwargs) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service, "n": 1}, "https://schema/1"),
                              **kwargs)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _spans() -> list:
    exporter = InMemorySpanExporter()
    gateway = _provider("gateway", exporter).get_tracer("gateway")
    other = _provider("other", exporter, span_limits=SpanLimits(max_span_attributes=2, max_events=1, max_event_attributes=1)).get_tracer(
        "lib", "1.2", schema_url="https://schema/2", attributes={"scope.attr": "x"})
    remote = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, True, TraceFlags(1),
                         TraceState([("vendor", "v1"), ("other", "o2")]))
    with gateway.start_as_current_span("GET route", trace.set_span_in_context(trace.NonRecordingSpan(remote)),
                                       SpanKind.SERVER, {"http.route": "/r", "ok": True, "n": 7, "f": 0.5}) as server:
        server.add_event("gateway.rejected", {"gateway.reason": "missing_credentials", "code": 401})
        server.set_attribute("tags", ("a", "b"))
        server.set_attribute("codes", (1, 2))
        server.set_status(Status(StatusCode.ERROR, "upstream failed"))
        with gateway.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes={"server.port": 8080}):
            pass
    for kind in SpanKind:
        with other.start_as_current_span(f"k{kind.value}", kind=kind, attributes={"a": 1, "b": 2, "c": 3}) as span:
            span.add_event("one")  # dropped: max_events=1 keeps the latest
            span.add_event("two", {"first": 1, "second": 2})  # one attribute dropped
    with other.start_as_current_span("linked", links=[Link(remote, {"why": "batch"})]) as span:
        span.set_status(Status(StatusCode.OK))
    with gateway.start_as_current_span("enum value") as span:  # not a plain int: the official encoder's job
        span.set_attribute("level", Level.HIGH)
    twin = _provider("gateway", exporter).get_tracer("gateway")  # equal resource and scope, other objects
    with twin.start_as_current_span("twin"):
        pass
    return [*exporter.get_finished_spans(), *_lean_spans(remote)]


def _lean_spans(remote: SpanContext) -> list:
    """The gateway's own spans (``LeanSpan``), read by the encoder without the properties."""
    exporter = InMemorySpanExporter()
    spans = []
    for limits in (SpanLimits(), SpanLimits(max_span_attributes=3, max_attribute_length=4),
                   SpanLimits(max_span_attributes=3, max_events=1)):
        tracer = LeanTracer(_provider("gateway", exporter, span_limits=limits), "gateway")
        server = tracer.start_span("GET orders", trace.set_span_in_context(trace.NonRecordingSpan(remote)),
                                   SpanKind.SERVER, {"http.request.method": "GET", "url.path": "/orders/7"})
        client = tracer.start_span("GET", trace.set_span_in_context(server), SpanKind.CLIENT,
                                   {"server.address": "orders", "server.port": 8000})
        client.set_attribute("http.response.status_code", 503)
        client.set_status(Status(StatusCode.ERROR))
        client.end()
        server.add_event("gateway.retry", {"attempt": 1})
        server.add_event("gateway.upstream_error", {"error.type": "timeout", "http.response.status_code": 504})
        server.set_attribute("http.response.status_code", 504)
        server.set_attribute("gateway.consumer", "alice")
        server.end()
        root = tracer.start_span("GET unmatched", None, SpanKind.SERVER, {"url.path": "/nowhere"})  # a new trace
        root.end()
        spans += (client, server, root)
    assert any(span.dropped_attributes for span in spans) and any(span.dropped_events for span in spans)
    return spans


def test_same_request_as_the_official_encoder():
    spans = _spans()
    official = encode_spans(spans)
    ours = ExportTraceServiceRequest.FromString(encode(spans))
    assert ours == official
    assert len(ours.resource_spans) == 2 and sum(len(r.scope_spans) for r in ours.resource_spans) == 3
    assert sum(len(s.spans) for r in ours.resource_spans for s in r.scope_spans) == len(spans)


@pytest.mark.parametrize("cut", [1, 2, 5])
def test_any_slice_of_the_batch_too(cut):
    spans = _spans()
    assert ExportTraceServiceRequest.FromString(encode(spans[:cut])) == encode_spans(spans[:cut])



def test_a_value_no_encoder_can_write_is_left_out_as_the_official_encoder_leaves_it():
    tracer = LeanTracer(_provider("gateway", InMemorySpanExporter()), "gateway")
    spans = [tracer.start_span(name, attributes={"kept": 1}) for name in ("object", "huge")]
    spans[0].set_attribute("object", object())  # LeanSpan does not type-check on the unlimited path
    spans[1].set_attribute("count", 1 << 70)  # beyond int64
    for span in spans:
        span.end()
    request = ExportTraceServiceRequest.FromString(encode(spans))
    assert request == encode_spans(spans)
    assert [[a.key for a in span.attributes] for span in request.resource_spans[0].scope_spans[0].spans] == [["kept"]] * 2


def test_a_span_that_cannot_be_encoded_is_dropped_and_counted_not_its_batch():
    tracer = LeanTracer(_provider("gateway", InMemorySpanExporter()), "gateway")
    good, broken = tracer.start_span("good"), tracer.start_span("broken")
    broken.update_name(None)
    good.end()
    broken.end()
    before = span_encoding.dropped
    request = ExportTraceServiceRequest.FromString(encode([broken, good]))
    assert [span.name for span in request.resource_spans[0].scope_spans[0].spans] == ["good"]
    assert span_encoding.dropped == before + 1
    assert encode([broken]) == b""


def test_repeated_values_are_kept_within_bounds_and_encode_the_same_when_reused():
    tracer = LeanTracer(_provider("gateway", InMemorySpanExporter()), "gateway")
    spans = []
    for i in range(600):
        span = tracer.start_span("GET" if i % 2 else f"GET /orders/{i}", attributes={"http.request.method": "GET", "url.path": f"/orders/{i}",
                                                    "user_agent.original": "x" * 1000})
        span.end()
        spans.append(span)
    assert ExportTraceServiceRequest.FromString(encode(spans)) == encode_spans(spans)
    assert ExportTraceServiceRequest.FromString(encode(spans)) == encode_spans(spans)  # from what was kept
    cache = span_encoding._caches[b"\x4a"]  # the spans' own attributes
    assert ("http.request.method", "GET") in cache
    kept_paths = [key for key, _ in cache if key == "url.path"]
    assert 0 < len(kept_paths) <= 256  # too many distinct values: no more kept
    assert not [key for key, _ in cache if key == "user_agent.original"]  # too long to keep
    assert len(span_encoding._names) <= 256  # span names: as many kept at most


def test_a_kept_value_is_not_reused_for_an_equal_value_of_another_type():
    tracer = LeanTracer(_provider("gateway", InMemorySpanExporter()), "gateway")
    spans = []
    for value in (1, True, 1.0, 200, 200.0, "1", 1, True):  # True == 1 == 1.0: one dict entry
        span = tracer.start_span("typed", attributes={"value": value})
        span.end()
        spans.append(span)
    request = ExportTraceServiceRequest.FromString(encode(spans))
    assert request == encode_spans(spans)
    kinds = [span.attributes[0].value.WhichOneof("value") for span in request.resource_spans[0].scope_spans[0].spans]
    assert kinds == ["int_value", "bool_value", "double_value", "int_value", "double_value", "string_value",
                     "int_value", "bool_value"]
