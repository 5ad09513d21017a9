"""Forward one request to its upstream and stream the answer back.

The upstream URL is the target's base URL plus the *normalised* path (never a join
with a client path) and the byte-exact query string. The client's ``Content-Length``
and ``Transfer-Encoding`` are dropped and the body is re-framed by the HTTP client.
Small responses are read whole and sent in one message; large or unsized ones are
streamed chunk by chunk so memory does not grow with the body. Bodies are read from the
transport's stream (``response.stream``): ``aiter_raw``'s bookkeeping was 2% of a
request (profiled); the response is closed explicitly either way.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
from django.http import HttpResponse, StreamingHttpResponse

from gateway import observe
from gateway.errors import BadRequest, GatewayError
from gateway.proxy.errors import map_upstream_exception
from gateway.proxy.headers import forwarded_element, response_headers_for_client

if TYPE_CHECKING:
    from gateway.context import RequestContext
    from gateway.runtime import Runtime

SMALL_RESPONSE = 256 * 1024
SMALL_REQUEST = 1024 * 1024
BODY_CHUNK = 64 * 1024
NO_BODY_STATUSES = frozenset({204, 304})
# Failures before any response byte: the request may be sent again (as Envoy's
# connect-failure and reset). Timeouts are not retried: the upstream may still be working.
RETRYABLE_FAILURES = frozenset({"upstream_connect", "upstream_protocol"})


class ProxyResponse(HttpResponse):
    """A whole upstream response with its raw header list (repeated names kept)."""

    def __init__(self, status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes):
        super().__init__(body, status=status)
        self.raw_headers = raw_headers

    def items(self):  # what Django's ASGI handler sends as headers
        return self.raw_headers


class StreamingProxyResponse(StreamingHttpResponse):
    def __init__(self, status: int, raw_headers: list[tuple[bytes, bytes]], body: AsyncIterator):
        super().__init__(body, status=status)
        self.raw_headers = raw_headers

    def items(self):
        return self.raw_headers


async def forward(ctx: RequestContext, runtime: Runtime):
    """Send the request upstream (retrying where allowed) and build the client's response."""
    pool = ctx.route.upstream
    ctx.upstream = pool.name
    pool.admit()
    released = False
    try:
        upstream, state = await _send_with_retries(ctx, runtime, pool)
        response = await _client_response(ctx, upstream, lambda: _done(pool, state))
        released = True
        return response
    finally:
        if not released:
            pool.release()


def _done(pool, state) -> None:
    state.in_flight -= 1
    pool.release()


async def _send_with_retries(ctx: RequestContext, runtime: Runtime, pool):
    method = ctx.request.method
    retryable = method in pool.retry_methods or ctx.route.retry_non_idempotent
    attempts = 1 + (pool.config.retries.attempts if retryable else 0)
    tried: list = []
    for attempt in range(attempts):
        last = attempt == attempts - 1
        if not pool.circuit_allows():
            observe.upstream_error(ctx, pool.name, "circuit_open")
            raise pool.circuit_open_error()
        state = pool.balancer.pick(exclude=tried)
        tried.append(state)
        state.in_flight += 1
        try:
            upstream = await _send(ctx, runtime, pool, state.target)
        except GatewayError as error:
            state.in_flight -= 1
            pool.record(state, False)
            if last or error.reason not in RETRYABLE_FAILURES or not pool.budget.try_spend():
                raise
            continue
        pool.record(state, upstream.status_code < 500)
        if upstream.status_code in pool.retry_statuses and not last and pool.budget.try_spend():
            await upstream.aclose()
            state.in_flight -= 1
            continue
        return upstream, state
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _send(ctx: RequestContext, runtime: Runtime, pool, target) -> httpx.Response:
    scope = ctx.request.scope
    try:
        url = target.url(ctx.route.upstream_path(ctx.path), scope.get("query_string", b""))
    except httpx.InvalidURL:
        raise BadRequest("The request target cannot be forwarded.", reason="unforwardable_url") from None
    headers = _upstream_headers(ctx, runtime, target.host_header)
    stream = _request_stream(ctx.request, headers)
    method = ctx.request.method
    span = observe.upstream_call(ctx, method, url, headers)
    # stream=: httpx adds no headers of its own (Host and Content-Length are set above),
    # sparing it a rebuild and several scans of the header list per request (profiled).
    request = httpx.Request(method, url, headers=headers, stream=stream, extensions={"timeout": pool.timeout_dict})
    if stream.__class__ is httpx.ByteStream:
        request.read()  # a whole body: transports may read request.content
    started = time.perf_counter()
    try:
        upstream = await runtime.transport.handle_async_request(request)
    except Exception as exc:  # noqa: BLE001 - mapped in one place, unknown ones re-raised
        ctx.upstream_ms = (time.perf_counter() - started) * 1000
        observe.upstream_call_done(span, None, exc)
        error, kind = map_upstream_exception(exc)
        observe.upstream_error(ctx, pool.name, kind)
        raise error from None
    except BaseException as exc:  # cancelled: the client went away
        observe.upstream_call_done(span, None, exc)
        raise
    observe.upstream_call_done(span, upstream.status_code)
    upstream.request = request
    ctx.upstream_status = upstream.status_code
    ctx.upstream_ms = (time.perf_counter() - started) * 1000
    return upstream


def _upstream_headers(ctx: RequestContext, runtime: Runtime, target_host: str) -> list:
    scope = ctx.request.scope
    peer = ctx.extra["peer"]
    trusted = ctx.extra["peer_trusted"]
    headers = list(runtime.request_headers(scope["headers"]))
    client_host = ctx.extra["host_header"]
    proto = scope.get("scheme", "http")
    xff, xfp, xfh, fwd = (ctx.extra.get(k) if trusted else None for k in _FORWARDED_KEYS)
    headers.append((b"host", (client_host if ctx.route.preserve_host and client_host else target_host).encode("latin-1")))
    headers.append((b"x-forwarded-for", f"{xff}, {peer}".encode() if xff else peer.encode()))
    headers.append((b"x-forwarded-proto", (xfp or proto).encode("latin-1")))
    headers.append((b"x-forwarded-host", (xfh or client_host).encode("latin-1")))
    element = forwarded_element(peer, xfp or proto, xfh or client_host)
    headers.append((b"forwarded", f"{fwd}, {element}".encode("latin-1") if fwd else element.encode("latin-1")))
    headers.append((b"x-request-id", ctx.request_id.encode()))
    for name, value in ctx.extra.get("upstream_headers", ()):
        headers.append((name.encode("latin-1"), value.encode("latin-1")))
    return headers


_FORWARDED_KEYS = ("xff", "xfp", "xfh", "forwarded")


def _request_stream(request, headers: list) -> httpx.ByteStream | _Chunks:
    """The request body for httpx, its ``Content-Length`` appended to ``headers`` (as httpx
    would: ``0`` only for an empty POST, PUT or PATCH)."""
    body = request._stream  # Django's spooled file holding the whole request body
    size = body.seek(0, 2)
    body.seek(0)
    if size == 0:
        if request.method in _LENGTH_WHEN_EMPTY:
            headers.append((b"content-length", b"0"))
        return _EMPTY
    headers.append((b"content-length", str(size).encode()))
    if size <= SMALL_REQUEST:
        return httpx.ByteStream(body.read())
    return _Chunks(body)


_EMPTY = httpx.ByteStream(b"")
_LENGTH_WHEN_EMPTY = frozenset({"POST", "PUT", "PATCH"})


class _Chunks(httpx.AsyncByteStream):
    """A large body, read from Django's spooled file chunk by chunk as it is sent."""

    def __init__(self, body) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := self.body.read(BODY_CHUNK):
            yield chunk


async def _client_response(ctx: RequestContext, upstream: httpx.Response, on_done):
    """The client's response; ``on_done`` runs once the upstream response is finished."""
    try:
        response = await _build_response(ctx, upstream, on_done)
    except BaseException:
        on_done()
        raise
    if not isinstance(response, StreamingProxyResponse):
        on_done()
    return response


async def _build_response(ctx: RequestContext, upstream: httpx.Response, on_done):
    status = upstream.status_code
    raw = upstream.headers.raw
    headers = response_headers_for_client(raw)
    length = _content_length(raw)
    method = ctx.request.method
    if method == "HEAD" or status in NO_BODY_STATUSES or status < 200:
        await upstream.aclose()
        if length is not None and status not in (204,) and status >= 200:
            headers.append((b"content-length", length))
        return ProxyResponse(status, headers, b"")
    if length is not None and int(length) <= SMALL_RESPONSE:
        try:
            body = b"".join([chunk async for chunk in upstream.stream])
        except Exception as exc:  # noqa: BLE001
            error, kind = map_upstream_exception(exc)
            observe.upstream_error(ctx, ctx.upstream or "", kind)
            raise error from None
        finally:
            await upstream.aclose()
        headers.append((b"content-length", str(len(body)).encode()))
        return ProxyResponse(status, headers, body)
    if length is not None:
        headers.append((b"content-length", length))
    return StreamingProxyResponse(status, headers, _stream(ctx, upstream, on_done))


async def _stream(ctx: RequestContext, upstream: httpx.Response, on_done) -> AsyncIterator[bytes]:
    sent = 0
    status = upstream.status_code
    try:
        async for chunk in upstream.stream:
            sent += len(chunk)
            yield chunk
    except httpx.HTTPError as exc:
        _, kind = map_upstream_exception(exc)
        observe.upstream_error(ctx, ctx.upstream or "", kind)
        raise  # headers are sent: aborting the connection tells the client it is cut
    finally:
        await upstream.aclose()
        on_done()
        observe.request_finished(ctx, status, sent)


def _content_length(raw: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in raw:
        if name.lower() == b"content-length":
            return value.strip() if value.strip().isdigit() else None
    return None
