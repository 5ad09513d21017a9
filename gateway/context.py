"""The per-request state that policies, the proxy and observability share."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from gateway.routing.table import Route


@dataclass(slots=True)
class Identity:
    """Who the caller is, as established by an auth policy."""

    consumer: str
    subject: str | None = None
    scopes: frozenset[str] = frozenset()
    policy: str = ""


@dataclass(slots=True)
class RequestContext:
    """Everything known about one request on its way through the gateway.

    ``path`` is the normalised path (decoded unreserved characters, no dot segments);
    it is the only path used for matching, policies and the upstream request.
    ``response_headers`` are added by policies to whatever response the client gets.
    """

    request: HttpRequest
    route: Route | None
    path: str
    client_ip: str
    request_id: str
    identity: Identity | None = None
    span: Any = None
    #: the server span's ``traceparent`` value, formatted once: also its ``traceresponse``
    trace_context: str | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    ratelimit: str | None = None
    upstream: str | None = None
    upstream_status: int | None = None
    upstream_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name, as the client sent it."""
        return request_header(self.request, name)


def request_header(request, name: str) -> str | None:
    """A header of a Django request, read from ``META``: ``request.headers`` builds a dict
    of every header on first use (profiled on the JWT route: most of its cached-path cost)."""
    meta = getattr(request, "META", None)
    if meta is None:  # a ScopeRequest (refused before Django built a request)
        return request.headers.get(name)
    key = name.upper().replace("-", "_")
    return meta.get(key if key in _UNPREFIXED else "HTTP_" + key)


_UNPREFIXED = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@+=/-]{1,128}$")


def request_id_for(incoming: str | None) -> str:
    """The client's ``X-Request-ID`` when well formed, else a new one."""
    return incoming if incoming and _REQUEST_ID.match(incoming) else new_request_id()


def new_request_id() -> str:
    """32 hex characters. Correlation, not a secret: no urandom syscall per request."""
    return f"{random.getrandbits(128):032x}"


class ScopeHeaders:
    """Case-insensitive ``get`` over ASGI headers, before Django builds a request."""

    __slots__ = ("raw",)

    def __init__(self, raw) -> None:
        self.raw = raw

    def get(self, name: str, default=None):
        wanted = name.lower().encode("latin-1")
        return next((v.decode("latin-1") for k, v in self.raw if k.lower() == wanted), default)


class ScopeRequest:
    """What observability reads of a request (method, scope, headers) for one the handler
    refuses before Django builds it (414, 431, 413)."""

    __slots__ = ("scope", "method", "headers")

    def __init__(self, scope: dict) -> None:
        self.scope = scope
        self.method = scope.get("method", "")
        self.headers = ScopeHeaders(scope.get("headers", ()))
