"""The proxy view and the reserved ``/-/`` endpoints."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from django.http import HttpResponse, JsonResponse
from django.utils.http import http_date

from gateway import observe
from gateway.context import RequestContext, new_request_id, request_header, request_id_for
from gateway.errors import BadRequest, Forbidden, GatewayError, NotFound, ServiceUnavailable, problem_response
from gateway.net import host_without_port, is_trusted, resolve_client_ip
from gateway.policies import pipeline
from gateway.proxy.forward import StreamingProxyResponse, forward
from gateway.routing.normalize import normalize_path
from gateway.runtime import current

logger = logging.getLogger("gateway")

_WANTED = {
    b"host": "host_header",
    b"x-forwarded-for": "xff",
    b"x-forwarded-proto": "xfp",
    b"x-forwarded-host": "xfh",
    b"forwarded": "forwarded",
    b"x-request-id": "request_id",
}


async def proxy(request):
    runtime = current()
    if runtime is None or not runtime.ready:
        return ServiceUnavailable("The gateway is starting.").to_response()
    ctx, error = _context(request, runtime)
    observe.request_started(ctx)
    try:
        if error is not None:
            raise error
        response = await pipeline.run(ctx, ctx.route.policies, lambda c: forward(c, runtime))
    except GatewayError as exc:
        observe.rejected(ctx, exc)
        response = exc.to_response(ctx.request_id)
    except asyncio.CancelledError:  # the client went away while we waited
        observe.request_finished(ctx, 499, 0)
        raise
    except Exception:
        logger.exception("unhandled error on route %s", ctx.route.name if ctx.route else "-")
        response = problem_response(500, "Internal Server Error", "The gateway failed.", ctx.request_id)
    return _finish(ctx, response)


def _context(request, runtime) -> tuple[RequestContext, GatewayError | None]:
    scope = request.scope
    seen = {}
    for name, value in scope["headers"]:
        key = _WANTED.get(name.lower())
        if key is not None and key not in seen:
            seen[key] = value.decode("latin-1")
    peer = (scope.get("client") or ("", 0))[0] or ""
    trusted = is_trusted(peer, runtime.trusted_proxies)
    incoming_id = seen.pop("request_id", "")
    ctx = RequestContext(
        request=request,
        route=None,
        path=scope.get("path", ""),
        client_ip=resolve_client_ip(peer, seen.get("xff"), runtime.trusted_proxies),
        request_id=request_id_for(incoming_id),
    )
    seen.setdefault("host_header", "")
    ctx.extra.update(seen, peer=peer, peer_trusted=trusted, start=time.perf_counter())
    try:
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        ctx.path = normalize_path(raw_path.split(b"?", 1)[0], runtime.config.gateway.merge_slashes)
        if ctx.path == "/-" or ctx.path.startswith("/-/"):
            # Django resolved the raw path; the normalised one may still land in /-/.
            raise NotFound("No such gateway endpoint.", reason="reserved")
        host = host_without_port(seen["host_header"]).lower()
        if not runtime.host_allowed(host):
            raise BadRequest("The Host header names a site this gateway does not serve.", reason="host_not_allowed")
        ctx.route = runtime.table.match(ctx.path, request.method, host, _LazyHeaders(request))
    except GatewayError as exc:
        return ctx, exc
    return ctx, None


class _LazyHeaders:
    """Headers read one by one from ``META``, only by routes that match on a header."""

    __slots__ = ("request",)

    def __init__(self, request) -> None:
        self.request = request

    def get(self, name: str, default=None):
        value = request_header(self.request, name)
        return default if value is None else value


def _finish(ctx: RequestContext, response):
    extra = [(b"x-request-id", ctx.request_id.encode())]
    extra.extend((n.encode("latin-1"), v.encode("latin-1")) for n, v in ctx.response_headers)
    trace = observe.traceresponse(ctx)
    if trace:
        extra.append((b"traceresponse", trace.encode()))
    raw = getattr(response, "raw_headers", None)
    if raw is not None:
        raw.extend(extra)
    else:
        response["Date"] = http_date()
        for name, value in extra:
            response[name.decode()] = value.decode("latin-1")
    if not isinstance(response, StreamingProxyResponse):
        observe.request_finished(ctx, response.status_code, len(response.content))
    return response


def live(request):
    return JsonResponse({"status": "ok"})


def ready(request):
    runtime = current()
    if runtime is None or not runtime.ready or runtime.draining:
        status = "draining" if runtime is not None and runtime.draining else "not ready"
        return JsonResponse({"status": status}, status=503)
    return JsonResponse({"status": "ready", "routes": len(runtime.routes)})


def _admin_allowed(request, runtime) -> bool:
    peer = (request.scope.get("client") or ("", 0))[0]
    if is_trusted(peer, runtime.admin_networks):
        return True
    token = runtime.config.gateway.admin.token
    header = request.headers.get("authorization", "")
    import hmac

    return bool(token) and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


def admin_only(view):
    async def wrapper(request):
        runtime = current()
        if runtime is None:
            return ServiceUnavailable("The gateway is starting.").to_response()
        if not _admin_allowed(request, runtime):
            return Forbidden("This endpoint is restricted.", reason="admin").to_response()
        return await view(request, runtime)

    return wrapper


@admin_only
async def routes(request, runtime):
    table = [
        {
            "name": r.name,
            "path_prefix": r.prefix,
            "methods": sorted(r.methods) if r.methods else None,
            "hosts": list(r.hosts) or None,
            "upstream": r.upstream.name,
            "strip_prefix": r.strip_prefix,
            "policies": [step.name for step in r.policies],
        }
        for r in runtime.routes
    ]
    return HttpResponse(json.dumps({"source": runtime.source, "routes": table}), content_type="application/json")


@admin_only
async def metrics(request, runtime):
    try:
        from gateway.metrics import render
    except ImportError:
        return problem_response(501, "Not Implemented", "Metrics are not available.")
    observe.record_pending()  # this worker's requests so far: a scrape right after them counts them
    body, content_type = render(request.headers.get("accept", ""))
    return HttpResponse(body, content_type=content_type)


def reserved_not_found(request):
    """``/-/`` belongs to the gateway: an unknown name there is never proxied."""
    request_id = new_request_id()
    return problem_response(
        404, "Not Found", "No such gateway endpoint.", request_id, [("X-Request-ID", request_id)]
    )
