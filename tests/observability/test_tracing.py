"""Traces on the wire: OTLP/HTTP protobuf exported by the gateway, traceparent upstream."""

from __future__ import annotations

import json
import time

import httpx
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.observability.conftest import FAST_EXPORT, gateway_config
from tests.support.gateway import GatewayProcess
from tests.support.net import free_port

INBOUND_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _upstream_traceparent(response: httpx.Response) -> str:
    headers = dict((k.lower(), v) for k, v in response.json()["headers"])
    return headers["traceparent"]


def _parse(traceresponse: str) -> tuple[str, str]:
    version, trace_id, span_id, flags = traceresponse.split("-")
    assert version == "00" and int(flags, 16) & 1  # sampled (0x02: random trace id, Level 2)
    return trace_id, span_id


def test_server_and_client_spans_share_the_trace_the_upstream_sees(traced_gateway, receiver):
    response = httpx.get(f"{traced_gateway.url}/api/echo/x?secret=1")
    assert response.status_code == 200
    trace_id, server_id = _parse(response.headers["traceresponse"])
    spans = {s.name: s for s in receiver.trace(trace_id, 2)}
    server, client = spans["GET echo"], spans["GET"]
    assert server.kind == Span.SPAN_KIND_SERVER and client.kind == Span.SPAN_KIND_CLIENT
    assert server.span_id.hex() == server_id and client.parent_span_id == server.span_id
    attributes = {a.key: a.value for a in server.attributes}
    assert attributes["gateway.route"].string_value == "echo"
    assert attributes["http.route"].string_value == "/api/echo"
    assert attributes["gateway.upstream"].string_value == "a"
    assert attributes["http.response.status_code"].int_value == 200
    _, up_trace, up_parent, _ = _upstream_traceparent(response).split("-")
    assert (up_trace, up_parent) == (trace_id, client.span_id.hex())


def test_inbound_traceparent_is_continued(traced_gateway, receiver):
    parent = "00f067aa0ba902b7"
    response = httpx.get(f"{traced_gateway.url}/api/echo/y",
                         headers={"traceparent": f"00-{INBOUND_TRACE}-{parent}-01"})
    trace_id, _ = _parse(response.headers["traceresponse"])
    assert trace_id == INBOUND_TRACE
    spans = {s.name: s for s in receiver.trace(trace_id, 2)}
    assert spans["GET echo"].parent_span_id.hex() == parent
    # the upstream gets the gateway's client span as parent, never the client's copy too
    assert _all(response, "traceparent") == [f"00-{INBOUND_TRACE}-{spans['GET'].span_id.hex()}-01"]


def test_an_unsampled_inbound_trace_reaches_the_upstream_but_is_not_recorded(traced_gateway, receiver):
    unsampled = "5bf92f3577b34da6a3ce929d0e0e4736"
    response = httpx.get(f"{traced_gateway.url}/api/echo/u", headers={
        "traceparent": f"00-{unsampled}-00f067aa0ba902b7-00", "tracestate": "vendor=kept"})
    _, trace_id, span_id, flags = response.headers["traceresponse"].split("-")
    assert (response.status_code, trace_id, flags) == (200, unsampled, "00")
    assert _all(response, "traceparent") == [f"00-{unsampled}-{span_id}-00"]
    assert _all(response, "tracestate") == ["vendor=kept"]
    later, _ = _parse(httpx.get(f"{traced_gateway.url}/api/echo/v").headers["traceresponse"])
    receiver.trace(later, 2)  # queued after the unsampled request, so that one was never queued
    with receiver.lock:
        assert unsampled not in {span.trace_id.hex() for _, span in receiver.spans}


def _all(response: httpx.Response, name: str) -> list[str]:
    """Every value of one header as the upstream received it."""
    return [v for k, v in response.json()["headers"] if k.lower() == name]


def test_malformed_traceparent_starts_a_new_trace(traced_gateway, receiver):
    response = httpx.get(f"{traced_gateway.url}/api/echo/z", headers={"traceparent": "00-zz-not-valid"})
    assert response.status_code == 200
    trace_id, _ = _parse(response.headers["traceresponse"])
    assert trace_id != INBOUND_TRACE and len(trace_id) == 32
    server = next(s for s in receiver.trace(trace_id, 2) if s.name == "GET echo")
    assert server.parent_span_id == b""


def test_rejection_adds_an_event_and_unmatched_spans_are_named(traced_gateway, receiver):
    refused = httpx.get(f"{traced_gateway.url}/keyed/a")
    assert refused.status_code == 401
    trace_id, _ = _parse(refused.headers["traceresponse"])
    (span,) = receiver.trace(trace_id, 1)
    assert span.name == "GET keyed"
    assert [e.name for e in span.events] == ["gateway.rejected"]
    missing = httpx.get(f"{traced_gateway.url}/nowhere")
    (span,) = receiver.trace(_parse(missing.headers["traceresponse"])[0], 1)
    assert (missing.status_code, span.name) == (404, "GET unmatched")


def test_access_log_line_carries_the_exported_trace_id(traced_gateway, receiver):
    response = httpx.get(f"{traced_gateway.url}/api/echo/logged", headers={"X-Request-ID": "obs-log-1"})
    trace_id, span_id = _parse(response.headers["traceresponse"])
    receiver.trace(trace_id, 2)
    line = _access_line(traced_gateway, "obs-log-1")
    assert (line["trace_id"], line["span_id"], line["route"], line["status"]) == (trace_id, span_id, "echo", 200)
    assert line["path"] == "/api/echo/logged" and line["upstream"] == "a"


def _access_line(gateway: GatewayProcess, request_id: str, timeout: float = 3.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for raw in gateway.logs().splitlines():
            if raw.startswith("{") and f'"{request_id}"' in raw:
                line = json.loads(raw)
                if line.get("event") == "access":
                    return line
        time.sleep(0.05)
    raise AssertionError(f"no access line for {request_id}:\n{gateway.logs()[-2000:]}")


def test_collector_down_costs_nothing_but_a_warning(upstream):
    collector = f"http://127.0.0.1:{free_port()}"
    env = {"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": collector,
           "OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "8"}
    with GatewayProcess(gateway_config(upstream.url), env=env) as gateway, httpx.Client() as client:
        started = time.monotonic()
        statuses = {client.get(f"{gateway.url}/api/echo/{i}").status_code for i in range(60)}
        elapsed = time.monotonic() - started
        assert statuses == {200}
        assert elapsed < 3.0, f"60 requests took {elapsed:.2f}s with the collector down"
        deadline = time.monotonic() + 5
        while f"span export to {collector}/v1/traces failed" not in gateway.logs() and time.monotonic() < deadline:
            time.sleep(0.05)
        warnings = [line for line in gateway.logs().splitlines() if "span export to" in line]
        assert len(warnings) == 1 and "ClientConnectorError" in warnings[0] and "spans dropped" in warnings[0], warnings


def test_spans_still_queued_when_the_gateway_stops_are_sent(upstream, receiver):
    """The gateway exports from its event loop: nothing leaves before the (long) schedule
    delay here, so every span below reaches the collector through the shutdown flush,
    in 4-span slices merged into fewer POSTs."""
    env = {"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
           "OTEL_BSP_SCHEDULE_DELAY": "60000", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4"}
    gateway = GatewayProcess(gateway_config(upstream.url), env=env).start()
    try:
        with httpx.Client() as client:
            traces = [client.get(f"{gateway.url}/api/echo/{i}").headers["traceresponse"].split("-")[1]
                      for i in range(10)]
        time.sleep(0.5)
        with receiver.lock:
            assert not {s.trace_id.hex() for _, s in receiver.spans} & set(traces)
    finally:
        gateway.stop()
    for trace_id in traces:
        kinds = sorted(span.kind for span in receiver.trace(trace_id, 2))
        assert len(kinds) == 2


def test_the_export_queue_bound_holds_spans_already_encoded(upstream, receiver):
    """``OTEL_BSP_MAX_QUEUE_SIZE`` bounds what waits for export, whether the spans wait as
    spans or already encoded (the gateway encodes its last requests' spans every 20 ms):
    six spans kept, the rest dropped, until the export."""
    env = {"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
           "OTEL_BSP_SCHEDULE_DELAY": "60000", "OTEL_BSP_MAX_QUEUE_SIZE": "6"}
    gateway = GatewayProcess(gateway_config(upstream.url), env=env).start()
    traces = set()
    try:
        with httpx.Client() as client:
            for i in range(10):
                response = client.get(f"{gateway.url}/api/echo/{i}")
                traces.add(response.headers["traceresponse"].split("-")[1])
                time.sleep(0.03)  # each request's spans encoded before the next one's
    finally:
        gateway.stop()
    receiver.traces(traces, 6)
    time.sleep(0.2)
    assert len(receiver.traces(traces, 6)) == 6


def test_a_line_the_gateway_logs_during_a_request_carries_that_request_s_trace(upstream, receiver):
    """Rate-limit store down: the warning written while the request waits for it names the
    request's trace and server span, so an operator goes from the warning to the trace."""
    config = gateway_config(upstream.url)
    config["routes"].append({"name": "limited", "match": {"path_prefix": "/limited"}, "upstream": "a",
                             "policies": [{"rate_limit": {"limits": ["100/second"], "key": "ip"}}]})
    env = {"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, **FAST_EXPORT,
           "LOG_FORMAT": "json", "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    with GatewayProcess(config, env=env) as gateway:
        response = httpx.get(f"{gateway.url}/limited/x")
        assert response.status_code == 200  # on_backend_error: allow
        trace_id, span_id = _parse(response.headers["traceresponse"])
        server = next(s for s in receiver.trace(trace_id, 2) if s.name == "GET limited")
        deadline = time.monotonic() + 3
        while "rate-limit store unavailable" not in gateway.logs() and time.monotonic() < deadline:
            time.sleep(0.05)
        (warning,) = [json.loads(line) for line in gateway.logs().splitlines()
                      if line.startswith("{") and "rate-limit store unavailable" in line]
    assert (warning["level"], warning["trace_id"], warning["span_id"]) == ("WARNING", trace_id, span_id)
    assert warning["request_id"] == response.headers["x-request-id"]
    assert server.span_id.hex() == span_id
