"""Several auth policies on one route: any of them admits the caller; a refusal names
the credentials the caller actually sent; anonymous fallback only for callers without any."""

from __future__ import annotations

import pytest

from gateway.auth.group import run_auth_group
from gateway.errors import GatewayError
from gateway.policies.anonymous import AnonymousConfig, AnonymousPolicy
from gateway.policies.api_key import ApiKeyConfig, ApiKeyPolicy, hash_key
from gateway.policies.base import Services
from gateway.policies.pipeline import compile_steps
from tests.policies.auth.helpers import context

KEY = "pk_test_group"


class Consumer:
    name = "partner-a"
    api_keys = (hash_key(KEY),)


@pytest.fixture
def api_key() -> ApiKeyPolicy:
    return ApiKeyPolicy(
        ApiKeyConfig(), route_name="orders", services=Services(consumers=[Consumer()])
    )


def anonymous(**options) -> AnonymousPolicy:
    return AnonymousPolicy(AnonymousConfig(**options), route_name="orders", services=Services())


async def refused(policies, ctx):
    with pytest.raises(GatewayError) as caught:
        await run_auth_group(policies, ctx)
    return caught.value


async def test_jwt_or_api_key_each_admits(make_jwt, api_key, signer):
    group = [make_jwt(), api_key]
    by_token, by_key = context(token=signer.token()), context(headers={"X-API-Key": KEY})

    await run_auth_group(group, by_token)
    await run_auth_group(group, by_key)

    assert (by_token.identity.policy, by_token.identity.consumer) == ("jwt", "user-1")
    assert (by_key.identity.policy, by_key.identity.consumer) == ("api_key", "partner-a")
    assert by_key.extra["upstream_headers"] == [("X-Consumer", "partner-a")]
    assert "auth_failure" not in by_key.extra


async def test_valid_key_wins_over_a_bad_token(make_jwt, api_key, other_signer):
    ctx = context(token=other_signer.token(), headers={"X-API-Key": KEY})

    await run_auth_group([make_jwt(), api_key], ctx)

    assert ctx.identity.consumer == "partner-a"
    assert ctx.extra["upstream_headers"] == [("X-Consumer", "partner-a")]


async def test_nothing_sent_gets_the_first_policys_challenge(make_jwt, api_key):
    ctx = context()

    error = await refused([make_jwt(), api_key], ctx)

    assert (error.status_code, error.reason) == (401, "missing_token")
    assert ctx.extra["auth_failure"] == ("jwt", "missing_token")


async def test_refusal_is_about_the_credentials_sent(make_jwt, api_key):
    ctx = context(headers={"X-API-Key": "wrong"})

    error = await refused([make_jwt(), api_key], ctx)

    assert (error.status_code, error.reason) == (401, "invalid_api_key")
    assert ctx.extra["auth_failure"] == ("api_key", "invalid_api_key")


async def test_anonymous_fallback_for_callers_without_credentials(make_jwt, api_key):
    ctx = context()

    await run_auth_group([make_jwt(), api_key, anonymous()], ctx)

    assert (ctx.identity.consumer, ctx.identity.policy) == ("anonymous", "anonymous")
    assert ctx.extra["upstream_headers"] == [("X-Consumer", "anonymous")]


async def test_anonymous_does_not_swallow_a_bad_token(make_jwt, signer):
    ctx = context(token=signer.token(aud="someone-else"))

    error = await refused([make_jwt(), anonymous()], ctx)

    assert (error.status_code, error.reason) == (401, "invalid_audience")
    assert ctx.identity is None


async def test_anonymous_can_be_told_to_accept_refused_credentials(make_jwt, signer):
    ctx = context(token=signer.token(aud="someone-else"))

    await run_auth_group([make_jwt(), anonymous(accept_invalid=True, consumer="guest")], ctx)

    assert ctx.identity.consumer == "guest"


async def test_insufficient_scope_falls_through_to_another_policy(make_jwt, api_key, signer):
    ctx = context(token=signer.token(scope="orders:read"), headers={"X-API-Key": KEY})

    await run_auth_group([make_jwt(scopes=["orders:admin"]), api_key], ctx)

    assert ctx.identity.policy == "api_key"


async def test_group_runner_agrees_with_the_pipelines_grouping(make_jwt, api_key):
    """The lead's pipeline groups consecutive ``is_auth`` policies; both pick the same refusal."""
    policies = [make_jwt(), api_key]
    (step,) = compile_steps(policies)
    ctx_a, ctx_b = context(headers={"X-API-Key": "wrong"}), context(headers={"X-API-Key": "wrong"})

    mine = await refused(policies, ctx_a)
    with pytest.raises(GatewayError) as caught:
        await step.on_request(ctx_b)

    assert (mine.reason, ctx_a.extra["auth_failure"]) == (
        caught.value.reason,
        ctx_b.extra["auth_failure"],
    )


async def test_empty_group_is_a_programming_error():
    with pytest.raises(ValueError):
        await run_auth_group([], context())
