"""Response headers for a decision.

``RateLimit-Policy`` and ``RateLimit`` follow draft-ietf-httpapi-ratelimit-headers
(-10/-11): Structured Field Lists whose items are Strings naming a policy, e.g.
``RateLimit-Policy: "1s";q=20;w=1, "1h";q=1000;w=3600`` and
``RateLimit: "1s";r=19;t=1, "1h";r=999;t=4``. One item per configured limit: ``q`` the
quota, ``w`` the window, ``r`` what remains and ``t`` the seconds until the quota is
whole again (GCRA refills continuously). On a refusal, a refusing limit's ``t`` is the
wait, the same instant as ``Retry-After``, as the draft asks.

``X-RateLimit-Limit/-Remaining/-Reset`` describe the tightest limit only; ``-Reset`` is
in seconds from now like ``t`` (no clock synchronisation needed), not an epoch.
"""

from __future__ import annotations

import math

from gateway.policies.ratelimit.backend import Decision, LimitState
from gateway.policies.ratelimit.limits import Limit


def policy_header(limits: tuple[Limit, ...]) -> tuple[str, str]:
    items = ", ".join(f'"{limit.name}";q={limit.count};w={limit.period}' for limit in limits)
    return ("RateLimit-Policy", items)


def decision_headers(decision: Decision) -> list[tuple[str, str]]:
    tightest = decision.tightest
    headers = [
        ("RateLimit", ", ".join(_item(state) for state in decision.states)),
        ("X-RateLimit-Limit", str(tightest.limit.count)),
        ("X-RateLimit-Remaining", str(tightest.remaining)),
        ("X-RateLimit-Reset", str(_seconds(tightest))),
    ]
    if not decision.allowed:
        headers.append(("Retry-After", str(decision.retry_after)))
    return headers


def _item(state: LimitState) -> str:
    return f'"{state.limit.name}";r={state.remaining};t={_seconds(state)}'


def _seconds(state: LimitState) -> int:
    if not state.allowed:
        return max(1, math.ceil(state.retry_after))
    return math.ceil(state.reset_after)
