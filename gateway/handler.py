"""Django's ASGI handler without the per-request thread hops.

Stock ``ASGIHandler`` wraps every request in asgiref's ``ThreadSensitiveContext`` (a
new single-thread executor per request, joined at the end), sends ``request_started``
with ``asend`` (sync receivers run through ``sync_to_async``) and closes the response
through ``sync_to_async``. Profiled under load, that was ~45% of a worker's time
(bench: 990 -> see README). Nothing on the gateway's request path is synchronous, so
this handler keeps Django's request objects, URL resolver and views, and does the rest
on the event loop: signals are sent synchronously (their built-in receivers only
touch database connections, which the gateway has none of) and responses are closed
directly.
"""

from __future__ import annotations

import asyncio
import tempfile
import time

from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import get_resolver, set_script_prefix
from django.utils.http import http_date

from gateway import observe
from gateway.context import RequestContext, ScopeRequest, request_id_for
from gateway.errors import PayloadTooLarge
from gateway.limits import check_head
from gateway.net import resolve_client_ip
from gateway.runtime import current

#: A refused request target can be huge (414): the access line keeps its start.
MAX_LOGGED_PATH = 256


class GatewayASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.urlconf = settings.ROOT_URLCONF

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"the gateway serves HTTP, not {scope['type']}")
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send):
        runtime = current()
        started = time.perf_counter()
        limits = runtime.config.gateway.limits if runtime is not None else None
        if limits is not None and (error := check_head(scope, limits)) is not None:
            await self._refuse(error, send, scope, runtime, started)
            return
        max_bytes, detail, route = runtime.body_limit(scope) if runtime is not None else (None, None, None)
        try:
            body_file = await self.read_body(receive, max_bytes, detail)
        except RequestAborted:
            return
        except PayloadTooLarge as error:
            await self._refuse(error, send, scope, runtime, started, route)
            return
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            error_response.close()
            return
        try:
            await self._respond_until_disconnect(request, receive, send)
        finally:
            body_file.close()

    async def get_response_async(self, request):
        """Django's, minus what it costs every request for nothing here: the urlconf read
        from the lazy settings (twice) and, on every 4xx/5xx, ``log_response`` run through
        ``sync_to_async``, a thread hop per rejection to write a ``django.request`` line the
        gateway silences (its access line records every response)."""
        response = await self._middleware_chain(request)
        response._resource_closers.append(request.close)
        return response

    def resolve_request(self, request):
        """Django's without the per-request ``request.urlconf`` override: only middleware
        sets one, and the gateway runs none, so the urlconf read at start-up is the one."""
        match = get_resolver(self.urlconf).resolve(request.path_info)
        request.resolver_match = match
        return match

    async def read_body(self, receive, max_bytes: int | None = None, detail: str | None = None):
        """Django's body reader, refusing (413, with the route's ``detail`` when the limit is
        a route's) as soon as the body passes ``max_bytes``."""
        body_file = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise RequestAborted()
            chunk = message.get("body", b"")
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                body_file.close()
                raise PayloadTooLarge(detail, reason="route_body_too_large" if detail else "body_too_large")
            body_file.write(chunk)
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file

    async def send_response(self, response, send):
        """Django's, plus a Content-Length on whole responses the gateway wrote itself."""
        if not response.streaming and getattr(response, "raw_headers", None) is None:
            response["Content-Length"] = str(len(response.content))
        await super().send_response(response, send)

    async def _refuse(self, error, send, scope, runtime, started: float, route=None) -> None:
        """Answer before Django built a request; observed like every other request (a span,
        metrics under the route or ``unmatched``, one access line)."""
        ctx = _refusal_context(scope, runtime, route, started)
        observe.request_started(ctx)
        observe.rejected(ctx, error)
        response = error.to_response(ctx.request_id)
        response["X-Request-ID"] = ctx.request_id
        response["Connection"] = "close"
        response["Date"] = http_date()
        await self.send_response(response, send)
        observe.request_finished(ctx, response.status_code, len(response.content))

    async def _respond_until_disconnect(self, request, receive, send) -> None:
        """Serve the request in this task; a client that hangs up cancels the work (as
        Django does). Django runs the view and a disconnect listener as two new tasks
        joined by ``asyncio.wait``; one listener task that cancels this one costs less
        per request (profiled)."""
        this = asyncio.current_task()
        watch = _DisconnectWatch(this)
        listener = asyncio.get_running_loop().create_task(watch.listen(receive))
        response = None
        try:
            response = await self.run_get_response(request)
            await self.send_response(response, send)
        except asyncio.CancelledError:
            if not watch.disconnected:
                raise  # the server is shutting down: not ours to swallow
            this.uncancel()
        finally:
            watch.responded = True
            listener.cancel()
        if response is not None:
            response.close()  # sends request_finished
        else:
            signals.request_finished.send(sender=self.__class__)


class _DisconnectWatch:
    """Cancels the serving task when the client disconnects before the response is sent."""

    __slots__ = ("task", "disconnected", "responded")

    def __init__(self, task: asyncio.Task) -> None:
        self.task, self.disconnected, self.responded = task, False, False

    async def listen(self, receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass  # a body message after the body was read: keep waiting for the disconnect
        if not self.responded:
            self.disconnected = True
            self.task.cancel()


def _refusal_context(scope, runtime, route, started: float) -> RequestContext:
    peer = (scope.get("client") or ("", 0))[0] or ""
    request = ScopeRequest(scope)
    trusted = runtime.trusted_proxies if runtime is not None else ()
    ctx = RequestContext(
        request=request, route=route, path=scope.get("path", "")[:MAX_LOGGED_PATH],
        client_ip=resolve_client_ip(peer, request.headers.get("x-forwarded-for"), trusted),
        request_id=request_id_for(request.headers.get("x-request-id")),
    )
    ctx.extra["start"] = started
    return ctx
