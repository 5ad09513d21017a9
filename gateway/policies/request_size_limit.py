"""The ``request_size_limit`` policy: a route's maximum request body, below the gateway's.

```yaml
- request_size_limit: {max_bytes: 65536}
```

The ASGI handler reads the body before the view runs, and it already knows the route's
limit (``Runtime.body_limit`` matches the route early when any route has this policy):
a declared ``Content-Length`` over the gateway-wide ``gateway.limits.max_body_bytes`` is
refused before a byte is read, and a streamed body is cut off (413) as soon as it passes
the lower of the two limits, so memory and disk stay bounded. This policy then refuses
(413 problem+json) on a declared ``Content-Length`` over ``max_bytes`` before anything
is forwarded; nothing of an oversized body ever reaches the upstream.
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
