"""The one upstream HTTP client of a worker process, created at ASGI lifespan start-up.

The proxy sends through the client's transport directly (``Client.send`` would merge
the client's default headers and keep a cookie jar shared by every caller); policies
use the client itself (e.g. to fetch a JWKS). Instrumentation wraps the transport, so
both paths are traced.
"""

from __future__ import annotations

import os

import httpx


def create_client(max_connections: int = 512) -> httpx.AsyncClient:
    transport = _transport(os.environ.get("GATEWAY_HTTP_TRANSPORT", "aiohttp"), max_connections)
    return httpx.AsyncClient(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(10.0, connect=2.0),
    )


def _transport(kind: str, max_connections: int) -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )
    if kind == "aiohttp":
        from gateway.proxy.aiohttp_transport import AiohttpTransport

        return AiohttpTransport(limits=limits)
    if kind != "httpcore":
        raise ValueError(f"GATEWAY_HTTP_TRANSPORT must be httpcore or aiohttp, not {kind!r}")
    return httpx.AsyncHTTPTransport(limits=limits, trust_env=False, retries=0)
