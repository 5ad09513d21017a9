"""The policy contract: a small class, its config schema beside it, two async hooks.

A policy is built once per config load (never per request) with its validated options.
``on_request`` returns a response (or raises a ``GatewayError``) to stop the request, or
``None`` to let it continue; ``on_response`` may add headers via ``ctx.response_headers``.
Policies never call each other: they share the ``RequestContext``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from django.http import HttpResponseBase

    from gateway.context import RequestContext


#: for options models that also refuse type coercion ("10" is not an int, 1 not a bool)
STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)


class PolicyConfig(BaseModel):
    """Base for every policy's options: strict, unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Policy:
    name: ClassVar[str]
    Config: ClassVar[type[PolicyConfig]] = PolicyConfig
    #: auth policies combine with "any of" semantics when a route lists several
    is_auth: ClassVar[bool] = False

    def __init__(self, config: PolicyConfig, *, route_name: str, services: "Services") -> None:
        self.config = config
        self.route_name = route_name
        self.services = services

    async def on_request(self, ctx: RequestContext) -> HttpResponseBase | None:
        return None

    async def on_response(self, ctx: RequestContext, response: HttpResponseBase) -> None:
        return None

    async def startup(self) -> None:
        """Called once per worker after the event loop runs (open pools, warm caches)."""

    async def shutdown(self) -> None:
        """Called once per worker at shutdown."""


class Services:
    """Shared per-worker resources a policy may use (set by the app at start-up).

    ``http`` is the worker's shared ``httpx.AsyncClient``; ``settings`` the gateway-wide
    config; ``consumers`` the consumers declared in the config.
    """

    def __init__(self, *, settings=None, consumers=(), http=None) -> None:
        self.settings = settings
        self.consumers = tuple(consumers)
        self.http = http


REGISTRY: dict[str, type[Policy]] = {}


def register(cls: type[Policy]) -> type[Policy]:
    """Class decorator: make a policy available under ``cls.name`` in YAML."""
    if cls.name in REGISTRY:
        raise ValueError(f"policy {cls.name!r} is registered twice")
    REGISTRY[cls.name] = cls
    return cls
