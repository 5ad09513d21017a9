"""The ``rate_limit`` policy: count each request against the route's limits, refuse with
429 past them, and tell the client where it stands on every response.

The decision is the backend's (``ratelimit.backend``: Redis when ``REDIS_URL`` is set,
else memory); this module only keys the request, maps the answer to headers and errors,
and decides what a backend failure means (``on_backend_error``):

- ``allow`` (default): fail open, the request goes through without rate-limit headers;
- ``deny``: 503 problem+json;
- ``local``: each worker enforces its share (limit / workers) in memory until Redis is back.

``ctx.ratelimit`` becomes ``allowed``, ``limited`` or ``backend_error`` (whatever the
fallback then decided): the metrics count ``gateway_ratelimit_decisions_total`` from it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from gateway.errors import ServiceUnavailable, TooManyRequests
from gateway.policies.base import Policy, PolicyConfig, Services, register
from gateway.policies.ratelimit.backend import (
    BackendUnavailable,
    Decision,
    RateLimitBackend,
    shared_backend,
)
from gateway.policies.ratelimit.headers import decision_headers, policy_header
from gateway.policies.ratelimit.keys import check_kind, request_key
from gateway.policies.ratelimit.limits import parse_limit
from gateway.policies.ratelimit.memory import MemoryBackend

if TYPE_CHECKING:
    from gateway.context import RequestContext


class RateLimitConfig(PolicyConfig):
    limits: list[str] = Field(
        min_length=1,
        description="Limits that all apply, e.g. ['20/second', '1000/hour']; "
        "'<count>/<n><unit>' and ';burst=<n>' are accepted ('5/10minutes;burst=10').",
    )
    key: str | list[str] = Field(
        "consumer",
        description="Who shares a quota: consumer (else client IP), ip (IPv6 by /64), "
        "route (everyone), header:<Name>; a list combines them.",
    )
    on_backend_error: Literal["allow", "deny", "local"] = Field(
        "allow", description="When Redis fails: let through, answer 503, or limit per worker."
    )
    timeout_ms: int = Field(50, ge=1, le=5000, description="Budget for one Redis decision.")
    workers: int | None = Field(
        None, ge=1, description="Workers sharing the limit in 'local' mode "
        "(default: GATEWAY_WORKERS, else 1).",
    )

    @field_validator("limits")
    @classmethod
    def _limits(cls, limits: list[str]) -> list[str]:
        names = [parse_limit(text).name for text in limits]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"several limits share the window {', '.join(twice)}; keep one")
        return limits

    @field_validator("key")
    @classmethod
    def _key(cls, key: str | list[str]) -> str | list[str]:
        kinds = [key] if isinstance(key, str) else key
        if not kinds or len(set(kinds)) != len(kinds):
            raise ValueError("key must name at least one kind, each once")
        for kind in kinds:
            check_kind(kind)
        return key


@register
class RateLimitPolicy(Policy):
    name = "rate_limit"
    Config = RateLimitConfig
    config: RateLimitConfig

    def __init__(
        self,
        config: RateLimitConfig,
        *,
        route_name: str,
        services: Services,
        backend: RateLimitBackend | None = None,
    ) -> None:
        super().__init__(config, route_name=route_name, services=services)
        self.limits = tuple(parse_limit(text) for text in config.limits)
        self.kinds = (config.key,) if isinstance(config.key, str) else tuple(config.key)
        self.backend = backend if backend is not None else shared_backend(_redis_url(services))
        self.local = MemoryBackend(clock=self.backend.clock)
        workers = config.workers or _env_workers()
        self.local_limits = tuple(limit.scaled(workers) for limit in self.limits)
        self.policy_header = policy_header(self.limits)

    async def startup(self) -> None:
        await self.backend.startup()

    async def shutdown(self) -> None:
        await self.backend.close()

    async def on_request(self, ctx: RequestContext) -> None:
        key = request_key(self.route_name, self.kinds, ctx)
        ctx.response_headers.append(self.policy_header)
        try:
            decision = await self.backend.hit(
                key, self.limits, timeout=self.config.timeout_ms / 1000
            )
            ctx.ratelimit = "allowed" if decision.allowed else "limited"
        except BackendUnavailable:
            ctx.ratelimit = "backend_error"
            decision = self._degraded(key)
            if decision is None:
                return None
        headers = decision_headers(decision)
        ctx.response_headers.extend(headers)
        if not decision.allowed:
            raise TooManyRequests(
                f"Rate limit {decision.tightest.limit.text} exceeded; "
                f"retry after {decision.retry_after} s.",
                headers=[self.policy_header, *headers],
                reason="rate_limited",
            )
        return None

    def _degraded(self, key: str) -> Decision | None:
        mode = self.config.on_backend_error
        if mode == "deny":
            raise ServiceUnavailable(
                "Rate limiting is temporarily unavailable; try again shortly.",
                headers=[("Retry-After", "1")],
                reason="ratelimit_backend_error",
            )
        if mode == "local":
            return self.local.hit_now(key, self.local_limits)
        return None


def _redis_url(services: Services) -> str | None:
    return getattr(services.settings, "redis_url", None) or os.environ.get("REDIS_URL") or None


def _env_workers() -> int:
    value = os.environ.get("GATEWAY_WORKERS", "")
    return max(1, int(value)) if value.isdigit() else 1
