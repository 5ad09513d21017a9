"""The ``cors`` policy: answer preflights at the gateway and label responses for browsers.

```yaml
- cors: {allow_origins: ["https://app.example.com"], allow_methods: [GET, POST],
         allow_headers: [Authorization, Content-Type], expose_headers: [X-Request-ID],
         allow_credentials: true, max_age: 600}
```

- A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) never
  reaches the upstream: 204 with the route's CORS headers when the origin, method and
  headers are allowed, else 403 problem+json. (The route must match ``OPTIONS``: leave
  ``match.methods`` unset or list it, or the router answers 405 first.)
- Any other request from an allowed origin gets ``Access-Control-Allow-Origin`` (and
  ``-Credentials``, ``-Expose-Headers``); from another origin, no CORS header at all (the
  browser then withholds the response). The request itself still goes upstream: CORS
  protects browsers' readers, it is not access control.
- Every response carries ``Vary: Origin`` (unless the origin list is ``"*"``), and the
  upstream's own ``Access-Control-*`` headers are dropped: the route's config decides.
- ``"*"`` with ``allow_credentials`` is a config error (browsers refuse it anyway, and
  echoing any origin with credentials would hand every site the user's session).

The headers go on ``ctx.response_headers`` from ``on_request``, so refusals by later
policies (401, 429) are readable by the allowed origin too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from django.http import HttpResponse
from pydantic import Field, field_validator, model_validator

from gateway.errors import Forbidden
from gateway.policies.base import STRICT, Policy, PolicyConfig, Services, register
from gateway.responses import remove_header

if TYPE_CHECKING:
    from gateway.context import RequestContext

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_UPSTREAM_CORS = (
    "access-control-allow-origin", "access-control-allow-credentials",
    "access-control-expose-headers", "access-control-allow-methods",
    "access-control-allow-headers", "access-control-max-age",
)


class CorsConfig(PolicyConfig):
    model_config = STRICT
    allow_origins: list[str] | Literal["*"] = Field(
        description="Origins allowed, exactly as browsers send them ('https://app.example.com'), "
        "or '*' for any (never with allow_credentials)."
    )
    allow_methods: list[Method] = Field(
        ["GET", "HEAD", "POST"], min_length=1, description="Methods a preflight may ask for."
    )
    allow_headers: list[str] = Field(
        default_factory=list,
        description="Request headers a preflight may ask for (case-insensitive); ['*'] allows any.",
    )
    expose_headers: list[str] = Field(
        default_factory=list, description="Response headers the browser lets scripts read."
    )
    allow_credentials: bool = Field(
        False, description="Let the browser send cookies/credentials and read the answer."
    )
    max_age: int | None = Field(
        None, ge=0, le=86400, description="Seconds a browser may cache a preflight answer."
    )

    @field_validator("allow_origins")
    @classmethod
    def _origins(cls, origins: list[str] | str) -> list[str] | str:
        if isinstance(origins, str):
            return origins
        if not origins:
            raise ValueError("list at least one origin, or '*'")
        for origin in origins:
            if origin == "*":
                raise ValueError("'*' stands alone: allow_origins: '*'")
            if origin != "null" and not _ORIGIN.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin like https://app.example.com[:port] "
                    "(lowercase, no path)"
                )
        return origins

    @field_validator("allow_headers", "expose_headers")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        for name in names:
            if name != "*" and not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
        return names

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> CorsConfig:
        if self.allow_credentials and self.allow_origins == "*":
            raise ValueError(
                "allow_origins '*' cannot be combined with allow_credentials: list the origins"
            )
        if self.allow_credentials and "*" in self.allow_headers:
            raise ValueError(
                "allow_headers '*' cannot be combined with allow_credentials: list the headers"
            )
        return self


class NoContent(HttpResponse):
    """A 204 sent with exactly its header list: no Content-Type, no Content-Length."""

    def __init__(self) -> None:
        super().__init__(status=204)
        self.raw_headers: list[tuple[bytes, bytes]] = []

    def items(self):  # what Django's ASGI handler sends as headers
        return self.raw_headers


@register
class CorsPolicy(Policy):
    name = "cors"
    Config = CorsConfig
    config: CorsConfig

    def __init__(self, config: CorsConfig, *, route_name: str, services: Services) -> None:
        super().__init__(config, route_name=route_name, services=services)
        self.any_origin = config.allow_origins == "*"
        self.origins = frozenset(() if self.any_origin else config.allow_origins)
        self.methods = frozenset(config.allow_methods)
        self.any_header = "*" in config.allow_headers
        self.headers = frozenset(h.lower() for h in config.allow_headers)
        self.vary = [] if self.any_origin else [("Vary", "Origin")]
        self.actual = self._actual_headers()
        self.preflight = [
            ("Access-Control-Allow-Methods", ", ".join(config.allow_methods)),
            *([("Access-Control-Max-Age", str(config.max_age))] if config.max_age is not None
              else []),
        ]

    def _actual_headers(self) -> list[tuple[str, str]]:
        headers = []
        if self.config.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self.config.expose_headers:
            headers.append(("Access-Control-Expose-Headers", ", ".join(self.config.expose_headers)))
        return headers

    async def on_request(self, ctx: RequestContext) -> HttpResponse | None:
        origin = ctx.header("Origin")
        ctx.response_headers.extend(self.vary)
        allowed = origin is not None and (self.any_origin or origin in self.origins)
        if origin is not None and _is_preflight(ctx):
            return self._preflight(ctx, origin, allowed)
        if allowed:
            ctx.response_headers.append(("Access-Control-Allow-Origin", self._allow_origin(origin)))
            ctx.response_headers.extend(self.actual)
        return None

    def _preflight(self, ctx: RequestContext, origin: str, allowed: bool) -> HttpResponse:
        if not allowed:
            raise Forbidden("This origin may not call this route.", reason="cors_origin")
        method = ctx.header("Access-Control-Request-Method").strip()
        if method not in self.methods:
            raise Forbidden(f"CORS does not allow the method {method[:20]!r} here.",
                            reason="cors_method")
        asked = ctx.header("Access-Control-Request-Headers") or ""
        names = [n.strip().lower() for n in asked.split(",") if n.strip()]
        if any(not _TOKEN.match(n) for n in names) or (
            not self.any_header and any(n not in self.headers for n in names)
        ):
            raise Forbidden("CORS does not allow some of the requested headers here.",
                            reason="cors_headers")
        ctx.response_headers.append(("Access-Control-Allow-Origin", self._allow_origin(origin)))
        ctx.response_headers.extend(self.actual)
        ctx.response_headers.extend(self.preflight)
        if names:
            ctx.response_headers.append(("Access-Control-Allow-Headers", ", ".join(names)))
        ctx.response_headers.append(
            ("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
        )
        return NoContent()

    def _allow_origin(self, origin: str) -> str:
        return "*" if self.any_origin else origin

    async def on_response(self, ctx: RequestContext, response) -> None:
        for name in _UPSTREAM_CORS:
            remove_header(response, name)


def _is_preflight(ctx: RequestContext) -> bool:
    method = ctx.header("Access-Control-Request-Method")
    return ctx.request.method == "OPTIONS" and method is not None
