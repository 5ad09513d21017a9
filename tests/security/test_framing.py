"""Request framing attacks, sent as raw bytes (httpx would normalise them away).

The ASGI server's parser must refuse each one before the gateway sees it, and the
upstream must never receive a second, smuggled request.
"""

from __future__ import annotations

import socket

import pytest

from tests.support.gateway import GatewayProcess
from tests.support.upstream import Upstream

CASES = {
    "CL.TE": b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
    "TE.CL": b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n"
             b"0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
    "duplicate Content-Length": b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 6\r\n\r\nabcdef",
    "obs-fold": b"GET /x HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n",
    "bare LF line endings": b"GET /x HTTP/1.1\nHost: a\n\n",
    "invalid chunk size": b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "unknown transfer coding": b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "space before colon": b"GET /x HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n",
    "NUL in header value": b"GET /x HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n",
    "CR in header value": b"GET /x HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n",
}


@pytest.fixture(scope="module")
def gateway():
    upstream = Upstream("a").start()
    config = {"upstreams": {"a": {"targets": [upstream.url]}},
              "routes": [{"name": "all", "match": {"path_prefix": "/"}, "upstream": "a"}]}
    with GatewayProcess(config) as process:
        yield process
    upstream.stop()


def exchange(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(raw)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except socket.timeout:
            pass
    return data


@pytest.mark.parametrize("raw", CASES.values(), ids=CASES.keys())
def test_malformed_framing_is_refused_with_400(gateway, raw):
    answer = exchange(gateway.port, raw)
    statuses = [line.split(b" ")[1] for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
    assert statuses == [b"400"], answer[:300]
    assert b"smuggled" not in answer


def test_a_well_formed_raw_request_still_works(gateway):
    answer = exchange(gateway.port, b"GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200")
