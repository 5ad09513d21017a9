"""Request bodies and their framing, as the upstream receives them, with either HTTP client
engine behind httpx (``GATEWAY_HTTP_TRANSPORT``)."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from tests.proxy.test_forwarding import headers_of
from tests.support.gateway import GatewayProcess
from tests.support.upstream import parse_echo


@pytest.fixture(scope="module", params=["aiohttp", "httpcore"])
def engine_gateway(request, upstreams):
    config = {"upstreams": {"a": {"targets": [upstreams[0].url]}},
              "routes": [{"name": "echo", "match": {"path_prefix": "/echo"}, "upstream": "a"}]}
    with GatewayProcess(config, env={"GATEWAY_HTTP_TRANSPORT": request.param}) as process:
        yield process


@pytest.mark.parametrize(("method", "body", "length"), [
    ("GET", b"", None), ("OPTIONS", b"", None), ("POST", b"", "0"), ("PUT", b"", "0"), ("PATCH", b"", "0"),
    ("POST", b'{"order": 7}', "12"), ("PUT", b"x", "1"),
])
def test_small_bodies_and_their_length(engine_gateway, method, body, length):
    echo = parse_echo(httpx.request(method, f"{engine_gateway.url}/echo/b", content=body or None))
    assert (echo["method"], echo["body_length"]) == (method, len(body))
    assert headers_of(echo).get("content-length") == (None if length is None else [length])
    assert "transfer-encoding" not in headers_of(echo)


def test_a_large_body_is_streamed_with_its_length(engine_gateway):
    body = os.urandom(3 * 1024 * 1024 + 17)
    echo = parse_echo(httpx.post(f"{engine_gateway.url}/echo/big", content=body, timeout=30))
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert headers_of(echo)["content-length"] == [str(len(body))]
    assert "transfer-encoding" not in headers_of(echo)
