"""Run a route's consecutive auth policies with "any of" semantics.

The first policy that accepts the request wins. When all refuse, the client hears the
refusal of the first policy whose credentials were present (else of the first policy):
a caller with an expired token is told about the token, not about a missing API key.
``ctx.extra["auth_failure"]`` is ``(policy name, reason)`` for the access log and
``gateway_auth_failures_total``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.errors import GatewayError

if TYPE_CHECKING:
    from django.http import HttpResponseBase

    from gateway.context import RequestContext
    from gateway.policies.base import Policy


async def run_auth_group(
    policies: Sequence[Policy], ctx: RequestContext
) -> HttpResponseBase | None:
    if not policies:
        raise ValueError("an auth group needs at least one policy")
    failures: list[tuple[Policy, GatewayError]] = []
    for policy in policies:
        try:
            response = await policy.on_request(ctx)
        except GatewayError as error:
            failures.append((policy, error))
            continue
        ctx.extra.pop("auth_failure", None)
        return response
    policy, error = _chosen(failures)
    ctx.extra["auth_failure"] = (policy.name, error.reason)
    raise error


def _chosen(failures: list[tuple[Policy, GatewayError]]) -> tuple[Policy, GatewayError]:
    present = (f for f in failures if getattr(f[1], "credentials_present", False))
    return next(present, failures[0])
