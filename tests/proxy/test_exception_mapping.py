"""Every foreign exception the proxy can meet is translated in exactly one place."""

from __future__ import annotations

import asyncio
import inspect

import aiohttp
import httpx
import pytest

from gateway.errors import BadGateway, GatewayTimeout, ServiceUnavailable
from gateway.proxy.aiohttp_transport import map_aiohttp_exception
from gateway.proxy.errors import map_upstream_exception


def subclasses(root: type) -> list[type]:
    found, todo = [], [root]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith(root.__module__.split(".")[0]) and sub not in found:
                found.append(sub)
                todo.append(sub)
    return found


def instantiate(cls: type) -> BaseException:
    if issubclass(cls, httpx.HTTPStatusError):
        request = httpx.Request("GET", "http://x")
        return cls("x", request=request, response=httpx.Response(500, request=request))
    if issubclass(cls, httpx.InvalidURL) or "request" not in inspect.signature(cls).parameters:
        return cls("boom")
    return cls("boom", request=httpx.Request("GET", "http://x"))


@pytest.mark.parametrize("cls", subclasses(httpx.HTTPError) + [httpx.StreamError],
                         ids=lambda c: c.__name__)
def test_every_httpx_exception_is_mapped(cls):
    error, kind = map_upstream_exception(instantiate(cls))
    assert kind in {"connect", "timeout", "protocol"}
    assert error.status_code in {502, 503, 504}


@pytest.mark.parametrize("exc,status,kind", [
    (httpx.ConnectError("refused"), BadGateway, "connect"),
    (httpx.ConnectTimeout("slow"), GatewayTimeout, "timeout"),
    (httpx.ReadTimeout("slow"), GatewayTimeout, "timeout"),
    (httpx.PoolTimeout("full"), ServiceUnavailable, "timeout"),
    (httpx.RemoteProtocolError("bad"), BadGateway, "protocol"),
])
def test_status_and_kind(exc, status, kind):
    error, got = map_upstream_exception(exc)
    assert isinstance(error, status) and got == kind


def test_an_unknown_exception_is_not_swallowed():
    with pytest.raises(KeyError):
        map_upstream_exception(KeyError("bug"))


AIOHTTP_CASES = [
    (aiohttp.ConnectionTimeoutError(), httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError(), httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError(), httpx.ReadTimeout),
    (asyncio.TimeoutError(), httpx.PoolTimeout),
    (aiohttp.ClientConnectorError(None, OSError(111, "refused")), httpx.ConnectError),
    (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError(), httpx.ReadError),
    (aiohttp.ClientOSError(), httpx.ReadError),
    (aiohttp.InvalidURL("x"), httpx.UnsupportedProtocol),
]


@pytest.mark.parametrize("exc,expected", AIOHTTP_CASES, ids=lambda v: type(v).__name__)
def test_aiohttp_exceptions_map_to_precise_httpx_ones(exc, expected):
    assert type(map_aiohttp_exception(exc)) is expected


@pytest.mark.parametrize("cls", subclasses(aiohttp.ClientError), ids=lambda c: c.__name__)
def test_every_aiohttp_client_error_maps_to_an_httpx_error(cls):
    exc = cls.__new__(cls)  # some need live connection objects to construct; the type is what maps
    assert isinstance(map_aiohttp_exception(exc), httpx.HTTPError)
