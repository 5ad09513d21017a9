"""The ``headers`` policy: edit request headers (upstream) and response headers per route,
and add security response headers (HSTS, X-Content-Type-Options, X-Frame-Options, ...).

```yaml
- headers:
    request:  {set: {X-Tenant: acme}, add: {X-Via-Gateway: "1"}, remove: [Cookie]}
    response: {set: {Cache-Control: no-store}, remove: [X-Debug]}
    security: {hsts: "max-age=63072000; includeSubDomains", content_type_options: true,
               frame_options: DENY, referrer_policy: no-referrer}
```

Request edits: ``remove`` and ``set`` drop the client's copies from the header list the
proxy forwards (``scope["headers"]``, which only the proxy reads: policies read
``request.headers``), ``set``/``add`` then go out through the same upstream-header list
the auth policies use. Headers the gateway sets itself (``Host``, ``X-Forwarded-*``,
identity headers, hop-by-hop ...) are config errors.

Response edits: ``set``/``add`` and the security headers are queued on
``ctx.response_headers`` in ``on_request``, so every response on the route carries them,
including a refusal by a later policy (401, 429...); ``on_response`` removes the
upstream's copies of ``remove`` and of every ``set``/security header first, so the
route's value wins. List ``headers`` first on a route for its headers to reach refusals
by the policies after it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator

from gateway.auth.base import add_upstream_headers
from gateway.policies.base import STRICT, Policy, PolicyConfig, Services, register
from gateway.proxy.headers import GATEWAY_SET, HOP_BY_HOP, IDENTITY_HEADERS
from gateway.responses import remove_header

if TYPE_CHECKING:
    from gateway.context import RequestContext

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HSTS = re.compile(r"^max-age=\d+(\s*;\s*(includeSubDomains|preload))*$", re.IGNORECASE)
_GATEWAY_REQUEST = frozenset(n.decode() for n in GATEWAY_SET | HOP_BY_HOP | IDENTITY_HEADERS) | {
    "traceparent", "tracestate", "transfer-encoding",
}
_GATEWAY_RESPONSE = frozenset(n.decode() for n in HOP_BY_HOP) | {
    "content-length", "x-request-id", "traceresponse", "date",
}


def check_name(name: str, reserved: frozenset[str]) -> str:
    if not _TOKEN.match(name):
        raise ValueError(f"{name!r} is not a valid header name")
    if name.lower() in reserved:
        raise ValueError(f"{name!r} is set by the gateway itself; it cannot be edited")
    return name


def check_value(value: str) -> str:
    if any(c in value for c in "\r\n\x00") or not value.isascii():
        raise ValueError("a header value is printable ASCII: no CR, LF, NUL or non-ASCII")
    return value


class HeaderEdits(PolicyConfig):
    model_config = STRICT
    #: names the gateway sets itself in this direction: not editable
    reserved: ClassVar[frozenset[str]] = frozenset()

    set: dict[str, str] = Field(
        default_factory=dict, description="Headers replaced (any existing copy dropped)."
    )
    add: dict[str, str] = Field(
        default_factory=dict, description="Headers appended (existing copies kept)."
    )
    remove: list[str] = Field(default_factory=list, description="Header names dropped.")

    @field_validator("set", "add")
    @classmethod
    def _pairs(cls, pairs: dict[str, str]) -> dict[str, str]:
        for name, value in pairs.items():
            check_name(name, cls.reserved)
            check_value(value)
        return pairs

    @field_validator("remove")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        for name in names:
            check_name(name, cls.reserved)
        return names


class RequestEdits(HeaderEdits):
    reserved = _GATEWAY_REQUEST


class ResponseEdits(HeaderEdits):
    reserved = _GATEWAY_RESPONSE


class SecurityHeaders(PolicyConfig):
    model_config = STRICT
    hsts: str | None = Field(
        None, description="Strict-Transport-Security, e.g. 'max-age=63072000; includeSubDomains'."
    )
    content_type_options: bool = Field(False, description="X-Content-Type-Options: nosniff.")
    frame_options: Literal["DENY", "SAMEORIGIN"] | None = Field(
        None, description="X-Frame-Options."
    )
    referrer_policy: Literal[
        "no-referrer", "no-referrer-when-downgrade", "origin", "origin-when-cross-origin",
        "same-origin", "strict-origin", "strict-origin-when-cross-origin", "unsafe-url",
    ] | None = Field(None, description="Referrer-Policy.")
    content_security_policy: str | None = Field(None, description="Content-Security-Policy.")
    permissions_policy: str | None = Field(None, description="Permissions-Policy.")
    cross_origin_opener_policy: Literal[
        "same-origin", "same-origin-allow-popups", "unsafe-none"
    ] | None = Field(None, description="Cross-Origin-Opener-Policy.")
    cross_origin_resource_policy: Literal[
        "same-origin", "same-site", "cross-origin"
    ] | None = Field(None, description="Cross-Origin-Resource-Policy.")

    @field_validator("hsts")
    @classmethod
    def _hsts(cls, value: str | None) -> str | None:
        if value is not None and not _HSTS.match(value.strip()):
            raise ValueError(
                "hsts is 'max-age=<seconds>' optionally with '; includeSubDomains' and '; preload'"
            )
        return value.strip() if value else value

    @field_validator("content_security_policy", "permissions_policy")
    @classmethod
    def _value(cls, value: str | None) -> str | None:
        return check_value(value) if value is not None else None

    def pairs(self) -> list[tuple[str, str]]:
        pairs = [
            ("Strict-Transport-Security", self.hsts),
            ("X-Content-Type-Options", "nosniff" if self.content_type_options else None),
            ("X-Frame-Options", self.frame_options),
            ("Referrer-Policy", self.referrer_policy),
            ("Content-Security-Policy", self.content_security_policy),
            ("Permissions-Policy", self.permissions_policy),
            ("Cross-Origin-Opener-Policy", self.cross_origin_opener_policy),
            ("Cross-Origin-Resource-Policy", self.cross_origin_resource_policy),
        ]
        return [(name, value) for name, value in pairs if value]


class HeadersConfig(PolicyConfig):
    model_config = STRICT
    request: RequestEdits = Field(
        default_factory=RequestEdits, description="Edits of the request sent upstream."
    )
    response: ResponseEdits = Field(
        default_factory=ResponseEdits, description="Edits of the response sent to the client."
    )
    security: SecurityHeaders = Field(
        default_factory=SecurityHeaders, description="Security response headers."
    )


@register
class HeadersPolicy(Policy):
    name = "headers"
    Config = HeadersConfig
    config: HeadersConfig

    def __init__(self, config: HeadersConfig, *, route_name: str, services: Services) -> None:
        super().__init__(config, route_name=route_name, services=services)
        request, response = config.request, config.response
        self.request_dropped = frozenset(
            n.lower().encode("latin-1") for n in [*request.remove, *request.set]
        )
        self.request_added = [*request.set.items(), *request.add.items()]
        security = config.security.pairs()
        self.response_added = [*response.set.items(), *security, *response.add.items()]
        replaced = [*response.remove, *response.set, *(name for name, _ in security)]
        self.response_dropped = tuple(dict.fromkeys(n.lower() for n in replaced))

    async def on_request(self, ctx: RequestContext) -> None:
        if self.request_dropped:
            scope = ctx.request.scope
            dropped = self.request_dropped
            scope["headers"] = [(n, v) for n, v in scope["headers"] if n.lower() not in dropped]
        if self.request_added:
            add_upstream_headers(ctx, self.request_added)
        ctx.response_headers.extend(self.response_added)
        return None

    async def on_response(self, ctx: RequestContext, response) -> None:
        for name in self.response_dropped:
            remove_header(response, name)
