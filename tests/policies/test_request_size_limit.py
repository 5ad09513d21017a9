"""The ``request_size_limit`` policy through a real gateway: declared and chunked bodies."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.support.gateway import GatewayProcess
from tests.support.upstream import Upstream


@pytest.fixture(scope="module")
def stack():
    upstream = Upstream("size").start()
    config = {
        "gateway": {"limits": {"max_body_bytes": 10_000}},
        "upstreams": {"u": {"targets": [upstream.url]}},
        "routes": [
            {"name": "small", "match": {"path_prefix": "/flaky/small"}, "upstream": "u",
             "policies": [{"request_size_limit": {"max_bytes": 100}}]},
            {"name": "none", "match": {"path_prefix": "/flaky/none"}, "upstream": "u",
             "policies": [{"request_size_limit": {"max_bytes": 0}}]},
            {"name": "big", "match": {"path_prefix": "/flaky/big"}, "upstream": "u"},
        ],
    }
    with GatewayProcess(config) as gw, httpx.Client(base_url=gw.url) as client:
        yield gw, client, upstream
    upstream.stop()


def chunked(size: int):
    for start in range(0, size, 30):
        yield b"x" * min(30, size - start)


@pytest.mark.parametrize("path,body,status", [
    ("/flaky/small", b"x" * 100, 200),
    ("/flaky/small", b"x" * 101, 413),
    ("/flaky/small", chunked(100), 200),
    ("/flaky/small", chunked(150), 413),
    ("/flaky/none", b"", 200),
    ("/flaky/none", b"x", 413),
    ("/flaky/big", b"x" * 5000, 200),
    ("/flaky/big", chunked(20_000), 413),  # the gateway-wide limit, cut off while streaming
], ids=["at limit", "declared over", "chunked at limit", "chunked over", "empty at 0", "one byte at 0",
        "no route limit", "chunked over the global limit"])
def test_body_size(stack, path, body, status):
    _, client, upstream = stack
    before = upstream.behaviour.get("hits", 0)
    r = client.post(path, content=body)
    assert r.status_code == status, r.text
    assert upstream.behaviour.get("hits", 0) == before + (status == 200)
    if status == 413:
        assert r.headers["content-type"] == "application/problem+json"


def test_declared_length_over_the_limit_is_refused_by_raw_socket(stack):
    gw, _, upstream = stack
    before = upstream.behaviour.get("hits", 0)
    head = b"POST /flaky/small HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as sock:
        sock.sendall(head + b"x" * 5000)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"this route accepts (100 bytes)" in answer
    assert upstream.behaviour.get("hits", 0) == before


def test_chunked_body_over_the_route_limit_is_cut_off_while_it_streams(stack):
    """200 bytes sent of a chunked body that never ends: the route's 100-byte limit answers
    413 at once instead of waiting for the rest (the gateway-wide limit is 10,000)."""
    gw, _, upstream = stack
    before = upstream.behaviour.get("hits", 0)
    head = b"POST /flaky/small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gw.port), timeout=3) as sock:
        sock.sendall(head + b"c8\r\n" + b"x" * 200 + b"\r\n")  # and no last chunk
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert upstream.behaviour.get("hits", 0) == before
