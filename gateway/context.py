"""The per-request state that policies, the proxy and observability share."""

from __future__ import annotations

import random
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
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    ratelimit: str | None = None
    upstream: str | None = None
    upstream_status: int | None = None
    upstream_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name, as the client sent it."""
        return self.request.headers.get(name)


def new_request_id() -> str:
    """32 hex characters. Correlation, not a secret: no urandom syscall per request."""
    return f"{random.getrandbits(128):032x}"
