"""Logs: one JSON access line per request, no secrets, ECS field names on request."""

from __future__ import annotations

import io
import json
import logging
import socket
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from observability import logging as obs_logging
from tests.observability.conftest import API_KEY, gateway_config
from tests.support.gateway import GatewayProcess

BEARER = "eyJhbGciOiJub25lIn0.c2VjcmV0LWJlYXJlci10b2tlbg.sig"
COOKIE = "sessionid=cookie-secret-5f1e2d"
SECRETS = (BEARER, API_KEY, "cookie-secret-5f1e2d")


def _send(gateway: GatewayProcess, path: str, request_id: str) -> httpx.Response:
    return httpx.get(f"{gateway.url}{path}", headers={
        "Authorization": f"Bearer {BEARER}", "X-API-Key": API_KEY, "Cookie": COOKIE, "X-Request-ID": request_id})


def _lines(gateway: GatewayProcess, request_id: str, timeout: float = 3.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [json.loads(raw) for raw in gateway.logs().splitlines() if raw.startswith("{") and request_id in raw]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no log line for {request_id}:\n{gateway.logs()[-2000:]}")


def test_no_secret_reaches_any_log_line(upstream):
    env = {"LOG_LEVEL": "DEBUG"}
    with GatewayProcess(gateway_config(upstream.url), env=env) as gateway:
        assert _send(gateway, "/keyed/a", "secret-1").status_code == 200
        assert _send(gateway, "/keyed/a?api_key=x", "secret-2").status_code == 200
        _send(gateway, "/down/a", "secret-3")
        _send(gateway, "/nowhere", "secret-4")
        (line,) = [x for x in _lines(gateway, "secret-1") if x.get("event") == "access"]
        _lines(gateway, "secret-4")
        logs = gateway.logs()
    assert line["consumer"] == "partner" and line["route"] == "keyed" and line["status"] == 200
    assert line["upstream_status"] == 200 and line["bytes_out"] > 0 and line["client_ip"] == "127.0.0.1"
    assert line["service"] == "gateway" and line["level"] == "INFO" and line["logger"] == "gateway.access"
    assert line["timestamp"].endswith("Z") and line["path"] == "/keyed/a"
    for secret in SECRETS:
        assert secret not in logs


def test_every_request_gets_exactly_one_access_line(upstream):
    with GatewayProcess(gateway_config(upstream.url)) as gateway:
        for index, path in enumerate(["/api/echo/a", "/keyed/a", "/down/a", "/nowhere"]):
            httpx.get(f"{gateway.url}{path}", headers={"X-Request-ID": f"one-{index}"})
        for index, status in enumerate([200, 401, 502, 404]):
            lines = [x for x in _lines(gateway, f"one-{index}") if x.get("event") == "access"]
            assert [x["status"] for x in lines] in ([status], [503]) if status == 502 else [[status]]


def test_ecs_format_uses_ecs_field_names(upstream):
    with GatewayProcess(gateway_config(upstream.url), env={"LOG_FORMAT": "ecs"}) as gateway:
        httpx.get(f"{gateway.url}/api/echo/ecs", headers={"X-Request-ID": "ecs-1"})
        (line,) = _lines(gateway, "ecs-1")
    for key in ("@timestamp", "log.level", "log.logger", "service.name", "http.request.id",
                "http.response.status_code", "url.path", "ecs.version"):
        assert key in line, line
    assert line["log.logger"] == "gateway.access" and line["http.response.status_code"] == 200


def test_requests_refused_before_routing_are_logged_and_counted(upstream):
    """414 and 431 are answered by the ASGI handler before Django builds a request: they
    still get their access line (route ``unmatched``, the path cut short) and a count."""
    with GatewayProcess(gateway_config(upstream.url)) as gateway:
        long_path = "/api/echo/" + "a" * 20_000
        assert httpx.get(f"{gateway.url}{long_path}", headers={"X-Request-ID": "early-414"}).status_code == 414
        many = {f"X-Filler-{i}": "x" for i in range(200)}
        assert httpx.get(f"{gateway.url}/api/echo/a", headers={**many, "X-Request-ID": "early-431"}).status_code == 431
        lines = {rid: [x for x in _lines(gateway, rid) if x.get("event") == "access"]
                 for rid in ("early-414", "early-431")}
        metrics = httpx.get(f"{gateway.url}/-/metrics").text
    (too_long,), (too_many,) = lines["early-414"], lines["early-431"]
    assert too_long["status"] == 414 and too_long["route"] == "unmatched" and len(too_long["path"]) == 256
    assert too_many["status"] == 431 and too_many["path"] == "/api/echo/a"
    counts = {(s.labels["route"], s.labels["status_code"]): s.value
              for family in text_string_to_metric_families(metrics) if family.name == "gateway_requests"
              for s in family.samples if s.name == "gateway_requests_total"}
    assert counts[("unmatched", "414")] == counts[("unmatched", "431")] == 1


def test_a_client_that_hangs_up_is_logged_as_499_without_waiting_for_the_upstream(upstream):
    """The upstream would answer after 1.5 s; the client leaves after 0.3 s. The gateway
    stops waiting at once (one access line, status 499) and keeps serving."""
    with GatewayProcess(gateway_config(upstream.url)) as gateway:
        port = int(gateway.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(b"GET /keyed/slow?seconds=1.5 HTTP/1.1\r\nHost: localhost\r\n"
                           b"X-API-Key: " + API_KEY.encode() + b"\r\nX-Request-ID: gone-1\r\n\r\n")
            time.sleep(0.3)
        (line,) = [x for x in _lines(gateway, "gone-1") if x.get("event") == "access"]
        assert httpx.get(f"{gateway.url}/api/echo/after", headers={"X-Request-ID": "after-1"}).status_code == 200
    assert line["status"] == 499 and line["route"] == "keyed"
    assert line["duration_ms"] < 1000, line


def test_the_direct_access_line_is_the_line_logging_would_write(monkeypatch):
    """``info_lines`` skips the LogRecord for speed; the JSON and ECS lines must not change."""
    fields = {"trace_id": None, "span_id": None, "request_id": "rid", "event": "access", "route": "r", "method": "GET",
              "path": "/x", "status": 200, "duration_ms": 1.5, "upstream": None, "consumer": "zoë"}
    logger, root = logging.getLogger("gateway.access"), logging.getLogger()
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        _compare_direct_and_logged(monkeypatch, logger, root, fields)
    finally:
        root.setLevel(previous)


def _compare_direct_and_logged(monkeypatch, logger, root, fields) -> None:
    for kind in ("json", "ecs"):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(obs_logging._formatter(kind))
        handler.addFilter(obs_logging.ContextFilter("gateway"))
        monkeypatch.setattr(root, "handlers", [handler])
        monkeypatch.setattr(obs_logging, "_stdout", handler)
        monkeypatch.setattr(obs_logging, "_format", kind)
        monkeypatch.setattr(obs_logging, "_service", "gateway")
        assert obs_logging._direct_handler(logger) is handler
        second = {**fields, "request_id": "rid-2", "trace_id": "ab" * 16, "span_id": "cd" * 8}
        obs_logging.info_lines(logger, "access", [fields, second])
        logger.info("access", extra=fields)
        logger.info("access", extra=second)
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        for line in lines:
            line.pop("timestamp", None) or line.pop("@timestamp")
        assert [list(line.items()) for line in lines[:2]] == [list(line.items()) for line in lines[2:]]
        assert lines[1]["request_id" if kind == "json" else "http.request.id"] == "rid-2"
        extra = logging.StreamHandler(io.StringIO())
        logger.addHandler(extra)  # any other destination: the logging path
        try:
            assert obs_logging._direct_handler(logger) is None
        finally:
            logger.removeHandler(extra)


def test_the_gateway_access_line_is_the_line_logging_would_write(monkeypatch):
    """The gateway's own access fields keep ``info_lines``' contract: the ids first, no
    key of the line's head."""
    from gateway import observe
    from gateway.context import RequestContext, ScopeRequest

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    ctx = RequestContext(request=ScopeRequest(scope), route=None, path="/x", client_ip="10.0.0.1", request_id="rid")
    fields = observe._access_fields(ctx, 404, 0.0015, 10)
    assert list(fields)[:3] == ["trace_id", "span_id", "request_id"]
    assert not fields.keys() & {"timestamp", "level", "logger", "message", "service"}
    logger, root = logging.getLogger("gateway.access"), logging.getLogger()
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        _compare_direct_and_logged(monkeypatch, logger, root, fields)
    finally:
        root.setLevel(previous)
