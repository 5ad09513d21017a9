"""A real upstream, a test OTLP/HTTP receiver and gateways with observability on."""

from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.gateway import GatewayProcess
from tests.support.net import free_port
from tests.support.upstream import Upstream

API_KEY = "obs-test-key-0123456789abcdef"
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_TRACES_SAMPLER": "parentbased_always_on"}


class SpanStore:
    """The spans of decoded ``ExportTraceServiceRequest``s, as a flat list of (service, span)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, object]] = []
        self.lock = threading.Lock()

    def _add(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                with self.lock:
                    self.spans.extend((attrs.get("service.name", ""), s) for s in scope.spans)

    def trace(self, trace_id: str, count: int, timeout: float = 5.0) -> list:
        return self.traces({trace_id}, count, timeout)

    def traces(self, trace_ids: set[str], count: int, timeout: float = 5.0) -> list:
        """The spans of these traces, once there are at least ``count`` of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [s for _, s in self.spans if s.trace_id.hex() in trace_ids]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} spans of traces {sorted(trace_ids)}, got {len(found)}")


class OtlpReceiver(SpanStore):
    """Decodes OTLP/HTTP protobuf trace exports."""

    def __init__(self) -> None:
        super().__init__()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver._add(ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def gateway_config(upstream_url: str) -> dict:
    return {
        "consumers": [{"name": "partner", "api_keys": ["sha256:" + hashlib.sha256(API_KEY.encode()).hexdigest()]}],
        "upstreams": {"a": {"targets": [upstream_url], "timeouts": {"connect": 1.0, "read": 2.0}},
                      "down": {"targets": [f"http://127.0.0.1:{free_port()}"]}},
        "routes": [
            {"name": "echo", "match": {"path_prefix": "/api/echo"}, "upstream": "a", "strip_prefix": "/api"},
            {"name": "keyed", "match": {"path_prefix": "/keyed"}, "upstream": "a",
             "strip_prefix": "/keyed", "policies": [{"api_key": {}}]},
            {"name": "down", "match": {"path_prefix": "/down"}, "upstream": "down"},
        ],
    }


@pytest.fixture(scope="package")
def upstream():
    server = Upstream("a").start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def receiver():
    server = OtlpReceiver()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def traced_gateway(upstream, receiver):
    env = {"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, **FAST_EXPORT,
           "OBSERVABILITY_SPAN_EXPORT": "process"}  # the default (thread) runs in test_trace_chain
    with GatewayProcess(gateway_config(upstream.url), env=env) as process:
        yield process


@pytest.fixture(scope="package")
def multi_gateway(upstream):
    with GatewayProcess(gateway_config(upstream.url), workers=2) as process:
        yield process
