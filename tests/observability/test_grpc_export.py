"""Traces over OTLP/gRPC: ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` reaches a real gRPC receiver
(the official service definition from ``opentelemetry-proto``, served by grpcio)."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.observability.conftest import FAST_EXPORT, gateway_config
from tests.support.gateway import GatewayProcess
from tests.support.net import free_port


class GrpcReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace collector that keeps (service name, span) of every export."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Span]] = []
        self.lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self.server)
        self.port = free_port()
        self.server.add_insecure_port(f"127.0.0.1:{self.port}")
        self.server.start()

    def Export(self, request, context):  # the generated servicer's name
        for resource_spans in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
            with self.lock:
                self.spans.extend((service, span) for scope in resource_spans.scope_spans for span in scope.spans)
        return trace_service_pb2.ExportTraceServiceResponse()

    def trace(self, trace_id: str, count: int, timeout: float = 10.0) -> list[tuple[str, Span]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [(service, span) for service, span in self.spans if span.trace_id.hex() == trace_id]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} spans of trace {trace_id} over gRPC, got {len(found)}")


@pytest.fixture()
def grpc_receiver():
    receiver = GrpcReceiver()
    yield receiver
    receiver.server.stop(0)


def test_the_gateway_exports_its_spans_over_otlp_grpc(upstream, grpc_receiver):
    env = {"OTEL_SDK_DISABLED": "false", **FAST_EXPORT, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
           "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{grpc_receiver.port}"}
    with GatewayProcess(gateway_config(upstream.url), env=env) as gateway:
        response = httpx.get(f"{gateway.url}/api/echo/grpc")
        assert response.status_code == 200
        _, trace_id, server_id, _ = response.headers["traceresponse"].split("-")
        spans = grpc_receiver.trace(trace_id, 2)
    by_name = {span.name: (service, span) for service, span in spans}
    (service, server), (_, client) = by_name["GET echo"], by_name["GET"]
    assert service == "gateway" and server.span_id.hex() == server_id
    assert server.kind == Span.SPAN_KIND_SERVER and client.kind == Span.SPAN_KIND_CLIENT
    assert client.parent_span_id == server.span_id
