"""A route's policies, in the order the config lists them.

Consecutive auth policies form one group with "any of" semantics: the first that
accepts the request wins; when all refuse, the client gets the refusal of the first
policy whose credentials were present (else of the first policy), so a caller with a
bad token hears about the token, not about a missing API key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.context import RequestContext
    from gateway.policies.base import Policy


class AuthGroup:
    def __init__(self, members: list[Policy]) -> None:
        self.members = tuple(members)
        self.name = "|".join(m.name for m in members)

    async def on_request(self, ctx: RequestContext):
        failures: list[tuple[Policy, GatewayError]] = []
        for policy in self.members:
            try:
                response = await policy.on_request(ctx)
            except GatewayError as exc:
                failures.append((policy, exc))
                continue
            ctx.extra.pop("auth_failure", None)
            return response
        policy, error = next(
            ((p, e) for p, e in failures if getattr(e, "credentials_present", False)), failures[0]
        )
        ctx.extra["auth_failure"] = (policy.name, error.reason)
        raise error

    async def on_response(self, ctx: RequestContext, response) -> None:
        for policy in self.members:
            await policy.on_response(ctx, response)


class Single:
    """A lone auth policy still records why it refused, for metrics and logs."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.members = (policy,)
        self.name = policy.name

    async def on_request(self, ctx: RequestContext):
        try:
            return await self.policy.on_request(ctx)
        except GatewayError as exc:
            ctx.extra["auth_failure"] = (self.policy.name, exc.reason)
            raise

    async def on_response(self, ctx: RequestContext, response) -> None:
        await self.policy.on_response(ctx, response)


def compile_steps(policies: list[Policy]) -> tuple:
    steps: list = []
    group: list[Policy] = []
    for policy in [*policies, None]:
        if policy is not None and policy.is_auth:
            group.append(policy)
            continue
        if group:
            steps.append(AuthGroup(group) if len(group) > 1 else Single(group[0]))
            group = []
        if policy is not None:
            steps.append(policy)
    return tuple(steps)


async def run(ctx: RequestContext, steps: tuple, terminal):
    """Run ``on_request`` hooks in order, then ``terminal`` (the proxy), then ``on_response``."""
    response = None
    for step in steps:
        response = await step.on_request(ctx)
        if response is not None:
            break
    if response is None:
        response = await terminal(ctx)
    for step in steps:
        await step.on_response(ctx, response)
    return response
