"""Traces over OTLP/gRPC: ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` reaches a real gRPC receiver
(the official service definition from ``opentelemetry-proto``, served by grpcio)."""

from __future__ import annotations

from concurrent import futures

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.observability.conftest import FAST_EXPORT, SpanStore, gateway_config
from tests.support.gateway import GatewayProcess
from tests.support.net import free_port


class GrpcReceiver(SpanStore, trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace collector: the official service, served by grpcio."""

    def __init__(self) -> None:
        super().__init__()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self.server)
        self.port = free_port()
        self.server.add_insecure_port(f"127.0.0.1:{self.port}")
        self.server.start()

    def Export(self, request, context):  # the generated servicer's name
        self._add(request)
        return trace_service_pb2.ExportTraceServiceResponse()


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
        spans = {span.name: span for span in grpc_receiver.trace(trace_id, 2, timeout=10)}
    server, client = spans["GET echo"], spans["GET"]
    assert {service for service, span in grpc_receiver.spans if span.trace_id.hex() == trace_id} == {"gateway"}
    assert server.span_id.hex() == server_id
    assert server.kind == Span.SPAN_KIND_SERVER and client.kind == Span.SPAN_KIND_CLIENT
    assert client.parent_span_id == server.span_id
