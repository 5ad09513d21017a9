"""Observability hooks the proxy view calls: one place, wrapping the whole chain.

Interface (kept stable for the view):
- ``request_started(ctx)``: once per request, before routing decisions are acted on.
- ``request_finished(ctx, status, bytes_out)``: once per request, after the last byte
  was handed to the server (or the request failed).
- ``upstream_error(ctx, upstream, kind)``: kind in connect, timeout, protocol,
  circuit_open.
- ``instrument_client(client)``: called once per worker with the shared httpx client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from gateway.context import RequestContext


def request_started(ctx: RequestContext) -> None:
    return None


def request_finished(ctx: RequestContext, status: int, bytes_out: int) -> None:
    return None


def upstream_error(ctx: RequestContext, upstream: str, kind: str) -> None:
    return None


def instrument_client(client: httpx.AsyncClient) -> None:
    return None
