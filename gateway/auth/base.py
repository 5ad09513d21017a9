"""The base of every auth policy: subclasses implement ``authenticate`` only.

When a policy refuses credentials that were present, it notes so in ``ctx.extra`` under
``REJECTED``: the ``anonymous`` policy later in the same group reads it, so a caller
with a bad token hears 401 instead of silently becoming anonymous (unless configured).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from gateway.errors import GatewayError
from gateway.policies.base import Policy

if TYPE_CHECKING:
    from gateway.context import RequestContext

REJECTED = "auth_credentials_rejected"
UPSTREAM_HEADERS = "upstream_headers"


class AuthPolicy(Policy):
    is_auth: ClassVar[bool] = True
    #: header names this policy may set upstream (the proxy drops clients' copies of them)
    upstream_header_names: tuple[str, ...] = ()

    async def on_request(self, ctx: RequestContext) -> None:
        try:
            await self.authenticate(ctx)
        except GatewayError as error:
            if getattr(error, "credentials_present", False):
                ctx.extra.setdefault(REJECTED, self.name)
            raise

    async def authenticate(self, ctx: RequestContext) -> None:
        """Set ``ctx.identity`` or raise an error built by ``gateway.auth.challenge``."""
        raise NotImplementedError(".authenticate() must be overridden")


def add_upstream_headers(ctx: RequestContext, headers: list[tuple[str, str]]) -> None:
    ctx.extra.setdefault(UPSTREAM_HEADERS, []).extend(headers)
