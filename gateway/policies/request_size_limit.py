"""The ``request_size_limit`` policy: a route's maximum request body, below the gateway's.

```yaml
- request_size_limit: {max_bytes: 65536}
```

The gateway-wide ``gateway.limits.max_body_bytes`` is enforced by the ASGI handler
before any route is known: a declared ``Content-Length`` over it is refused before a
byte is read, and a chunked body is cut off (413) as soon as it passes it, so memory
and disk stay bounded. The handler buffers the body (a spooled file) before the view
runs; this policy then refuses (413 problem+json) up front on a declared
``Content-Length`` over ``max_bytes`` and, for a chunked body, on the buffered size, so
nothing of an oversized body ever reaches the upstream. (Cutting a chunked body off at
the route's limit while it streams would need the handler to match the route before
reading the body.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from gateway.errors import PayloadTooLarge
from gateway.policies.base import STRICT, Policy, PolicyConfig, Services, register

if TYPE_CHECKING:
    from gateway.context import RequestContext


class RequestSizeLimitConfig(PolicyConfig):
    model_config = STRICT
    max_bytes: int = Field(
        ge=0, description="Largest request body this route accepts, in bytes (0: no body)."
    )


@register
class RequestSizeLimitPolicy(Policy):
    name = "request_size_limit"
    Config = RequestSizeLimitConfig
    config: RequestSizeLimitConfig

    def __init__(
        self, config: RequestSizeLimitConfig, *, route_name: str, services: Services
    ) -> None:
        super().__init__(config, route_name=route_name, services=services)
        self.max_bytes = config.max_bytes
        self.error_detail = (
            f"The request body is larger than this route accepts ({self.max_bytes} bytes)."
        )

    async def on_request(self, ctx: RequestContext) -> None:
        declared = (ctx.header("Content-Length") or "").strip()
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise PayloadTooLarge(self.error_detail, reason="route_body_too_large")
        if buffered_size(ctx.request) > self.max_bytes:
            raise PayloadTooLarge(self.error_detail, reason="route_body_too_large")
        return None


def buffered_size(request) -> int:
    """The size of the body the handler buffered (Django's spooled file)."""
    body = getattr(request, "_stream", None)
    if body is None or not hasattr(body, "seek"):
        return len(getattr(request, "body", b"") or b"")
    position = body.tell()
    size = body.seek(0, 2)
    body.seek(position)
    return size
