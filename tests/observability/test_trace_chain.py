"""One trace across gateway -> service -> service, as exported by every process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.observability.conftest import FAST_EXPORT, gateway_config
from tests.support.gateway import ROOT, GatewayProcess
from tests.support.net import free_port


def _service(name: str, receiver_url: str, following: str | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(FAST_EXPORT, OTEL_SDK_DISABLED="false", OTEL_SERVICE_NAME=name,
               OTEL_EXPORTER_OTLP_ENDPOINT=receiver_url, NEXT_URL=following or "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.observability.chain_app:application", "--port", str(port),
         "--log-level", "warning"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=None if os.environ.get("CHAIN_DEBUG") else subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/metrics", timeout=0.5)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError(f"service {name} did not start")


@pytest.fixture
def services(receiver):
    back, back_url = _service("back", receiver.url)
    front, front_url = _service("front", receiver.url, back_url)
    yield front_url
    for proc in (front, back):
        proc.terminate()
        proc.wait(10)


def test_one_trace_from_gateway_to_the_second_service(services, receiver, upstream):
    config = gateway_config(upstream.url)
    config["upstreams"]["front"] = {"targets": [services]}
    config["routes"].insert(0, {"name": "chain", "match": {"path_prefix": "/hop"}, "upstream": "front"})
    env = {"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, **FAST_EXPORT}
    with GatewayProcess(config, env=env) as gateway:
        response = httpx.get(f"{gateway.url}/hop/")
    assert response.status_code == 200, response.text
    trace_id = response.headers["traceresponse"].split("-")[1]
    spans = receiver.trace(trace_id, 5)
    service_of = {id(s): name for name, s in receiver.spans if s.trace_id.hex() == trace_id}
    by_id = {s.span_id: s for s in spans}
    chain = [s for s in spans if s.kind == Span.SPAN_KIND_SERVER and service_of[id(s)] == "back"]
    while chain[-1].parent_span_id:
        chain.append(by_id[chain[-1].parent_span_id])
    described = [(service_of[id(s)], s.kind) for s in reversed(chain)]
    assert described == [
        ("gateway", Span.SPAN_KIND_SERVER), ("gateway", Span.SPAN_KIND_CLIENT),
        ("front", Span.SPAN_KIND_SERVER), ("front", Span.SPAN_KIND_CLIENT), ("back", Span.SPAN_KIND_SERVER),
    ]
    assert chain[-1].name == "GET chain"
