"""Request limits and Host validation, sent as raw bytes to a real gateway."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.support.gateway import GatewayProcess
from tests.support.upstream import Upstream


@pytest.fixture(scope="module")
def gateway():
    upstream = Upstream("a").start()
    config = {
        "gateway": {"allowed_hosts": ["api.example.com", "*.tenant.example", "127.0.0.1"],
                    "limits": {"max_url_bytes": 2048, "max_header_bytes": 8192, "max_headers": 40,
                               "max_body_bytes": 1_000_000}},
        "upstreams": {"a": {"targets": [upstream.url]}},
        "routes": [{"name": "all", "match": {"path_prefix": "/"}, "upstream": "a"}],
    }
    with GatewayProcess(config) as process:
        yield process
    upstream.stop()


def raw_status(port: int, data: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (socket.timeout, ConnectionResetError):
            pass
    return int(answer.split(b" ", 2)[1]), answer


def request(target: bytes = b"/x", headers: bytes = b"", body: bytes = b"") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: api.example.com\r\n" + headers + b"Connection: close\r\n\r\n" + body


@pytest.mark.parametrize("name,data,status", [
    ("long URL", request(b"/" + b"a" * 3000), 414),
    ("long query", request(b"/x?" + b"q=1&" * 700), 414),
    ("100 KB bearer token", request(headers=b"Authorization: Bearer " + b"a" * 100_000 + b"\r\n"), 431),
    ("many headers", request(headers=b"".join(b"X-%d: 1\r\n" % i for i in range(60))), 431),
    ("declared body too large", b"POST /x HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 2000000\r\n\r\n", 413),
])
def test_limits(gateway, name, data, status):
    got, answer = raw_status(gateway.port, data)
    assert got == status, answer[:200]
    assert b"application/problem+json" in answer


def test_streamed_body_over_the_limit_is_refused(gateway):
    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    r = httpx.post(f"{gateway.url}/x", content=chunks(), headers={"Host": "api.example.com"}, timeout=10)
    assert r.status_code == 413


@pytest.mark.parametrize("host,status", [
    ("api.example.com", 200), ("API.EXAMPLE.COM", 200), ("a.tenant.example", 200),
    ("tenant.example", 400), ("evil.example", 400), ("api.example.com.evil", 400),
])
def test_host_must_be_allowed(gateway, host, status):
    assert httpx.get(f"{gateway.url}/x", headers={"Host": host}).status_code == status
