"""The ``anonymous`` policy: the last member of an auth group, accepting the rest.

``- anonymous: {}`` after ``jwt`` or ``api_key`` makes credentials optional: a caller
without any is ``anonymous`` (``X-Consumer: anonymous`` upstream). By default a caller
whose credentials were present but refused still gets the refusal (like Envoy's
``allow_missing``); ``accept_invalid: true`` lets it through as anonymous too (Envoy's
``allow_missing_or_failed``). Alone on a route it accepts everyone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from gateway.auth.base import REJECTED, AuthPolicy, add_upstream_headers
from gateway.auth.challenge import invalid_token
from gateway.auth.claims import check_header_name
from gateway.context import Identity
from gateway.policies.base import PolicyConfig, register

if TYPE_CHECKING:
    from gateway.context import RequestContext


class AnonymousConfig(PolicyConfig):
    consumer: str = Field(
        "anonymous",
        pattern=r"^[A-Za-z0-9._:@-]{1,128}$",
        description="Consumer name given to callers without credentials.",
    )
    accept_invalid: bool = Field(
        False, description="Also accept callers whose credentials an earlier policy refused."
    )
    consumer_header: str = Field(
        "X-Consumer", description="Upstream header carrying the consumer name."
    )

    @field_validator("consumer_header")
    @classmethod
    def _header(cls, name: str) -> str:
        return check_header_name(name)


@register
class AnonymousPolicy(AuthPolicy):
    name = "anonymous"
    Config = AnonymousConfig
    config: AnonymousConfig

    @property
    def upstream_header_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.config.consumer_header,)

    async def authenticate(self, ctx: RequestContext) -> None:
        if ctx.extra.get(REJECTED) and not self.config.accept_invalid:
            raise invalid_token("gateway", "credentials_rejected")
        ctx.identity = Identity(consumer=self.config.consumer, policy=self.name)
        add_upstream_headers(ctx, [(self.config.consumer_header, self.config.consumer)])
