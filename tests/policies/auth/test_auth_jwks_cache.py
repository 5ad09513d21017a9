"""The JWKS cache against a real JWKS server: what the identity service sees (hits) and
what callers get, through floods, rotations, outages and concurrent requests. Time in the
cache moves only when the test advances its clock."""

from __future__ import annotations

import asyncio
import gc
import uuid

import jwt
import pytest

from gateway.auth.jwks import live_caches
from gateway.policies.base import Services
from gateway.policies.jwt import JwtConfig, JwtPolicy
from tests.policies.auth.helpers import Clock, Signer, context, payload, refusal


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_policy(make_jwt, clock):
    def make(**options):
        policy = make_jwt(**{"cache_verified_tokens": False, **options})
        policy.keys.clock = clock
        return policy

    return make


async def accepted(policy, token: str) -> str:
    ctx = context(token=token)
    await policy.on_request(ctx)
    return ctx.identity.consumer


async def test_startup_prefetches_the_key_set(make_policy, jwks_server, signer, clock):
    policy = make_policy()
    await policy.startup()
    clock.advance(42)

    assert await accepted(policy, signer.token()) == "user-1"
    assert jwks_server.total == 1
    assert policy.keys.refresh_results == {"success": 1}
    assert policy.keys.age_seconds() == 42


async def test_startup_failure_is_not_fatal_and_without_keys_the_answer_is_503(
    make_policy, jwks_server, signer, clock
):
    jwks_server.status = 500
    policy = make_policy()
    await policy.startup()

    errors = [await refusal(policy, context(token=signer.token())) for _ in range(5)]

    assert {(e.status_code, e.reason, e.credentials_present) for e in errors} == {
        (503, "jwks_unavailable", True)
    }
    assert jwks_server.total == 1, "retried within a second while no key set was ever fetched"
    assert policy.keys.refresh_results == {"error": 1} and policy.keys.age_seconds() is None
    jwks_server.status = 200
    clock.advance(1)
    assert await accepted(policy, signer.token()) == "user-1"
    assert jwks_server.total == 2


async def test_flood_of_bogus_kids_costs_one_refresh_per_cooldown(
    make_policy, jwks_server, signer, clock
):
    policy = make_policy(jwks_refresh_cooldown=30)
    await policy.startup()
    clock.advance(30)

    for _ in range(50):
        error = await refusal(
            policy, context(token=signer.token(headers={"kid": uuid.uuid4().hex}))
        )
        assert error.reason == "unknown_kid"
    assert jwks_server.total == 2, "startup plus at most one refresh in the cooldown"

    clock.advance(30)
    for _ in range(50):
        await refusal(policy, context(token=signer.token(headers={"kid": uuid.uuid4().hex})))
    assert jwks_server.total == 3
    assert await accepted(policy, signer.token()) == "user-1"


async def test_repeated_unknown_kid_is_answered_from_the_negative_cache(
    make_policy, jwks_server, signer, clock
):
    policy = make_policy(jwks_refresh_cooldown=30)
    await policy.startup()
    clock.advance(30)
    bogus = signer.token(headers={"kid": "gone"})

    for _ in range(10):
        await refusal(policy, context(token=bogus))
        clock.advance(2.9)  # 29 s in all: still within the first miss's cooldown

    assert jwks_server.total == 2


async def test_concurrent_requests_share_one_fetch(make_policy, jwks_server, signer):
    jwks_server.delay = 0.3
    policy = make_policy(jwks_refresh_cooldown=0)

    consumers = await asyncio.gather(*(accepted(policy, signer.token()) for _ in range(20)))

    assert consumers == ["user-1"] * 20
    assert jwks_server.total == 1


async def test_key_rotation_is_picked_up_by_one_refresh(
    make_policy, jwks_server, signer, other_signer, clock
):
    policy = make_policy(jwks_refresh_cooldown=10)
    await policy.startup()
    clock.advance(10)
    jwks_server.document = {"keys": [signer.jwk(), other_signer.jwk()]}
    jwks_server.delay = 0.2

    rotated = await asyncio.gather(
        *(accepted(policy, other_signer.token(sub=f"u{i}")) for i in range(10))
    )

    assert rotated == [f"u{i}" for i in range(10)]
    assert jwks_server.total == 2
    assert await accepted(policy, signer.token()) == "user-1"


async def test_withdrawn_key_stops_verifying_after_the_ttl(
    make_policy, jwks_server, signer, other_signer, clock
):
    jwks_server.document = {"keys": [signer.jwk(), other_signer.jwk()]}
    policy = make_policy(jwks_ttl=60)
    await policy.startup()
    jwks_server.document = {"keys": [other_signer.jwk()]}
    clock.advance(61)

    assert await accepted(policy, signer.token()) == "user-1", (
        "a stale set keeps serving while it refreshes"
    )
    await policy.keys.refresh()
    error = await refusal(policy, context(token=signer.token()))

    assert error.reason == "unknown_kid"
    assert await accepted(policy, other_signer.token()) == "user-1"


async def test_identity_service_down_last_good_set_keeps_serving(
    make_policy, jwks_server, signer, clock
):
    policy = make_policy(jwks_ttl=60, jwks_refresh_cooldown=5)
    await policy.startup()
    jwks_server.stop()
    clock.advance(120)

    assert await accepted(policy, signer.token()) == "user-1"
    await policy.keys.refresh()
    clock.advance(10)
    bogus = await refusal(policy, context(token=signer.token(headers={"kid": "during-outage"})))
    assert bogus.reason == "unknown_kid"

    assert await accepted(policy, signer.token()) == "user-1", (
        "one bogus kid during an outage logged everyone out"
    )
    assert policy.keys.refresh_results["error"] >= 2
    assert policy.keys.refresh_results["success"] == 1
    assert policy.keys.age_seconds() == 130


@pytest.mark.parametrize(
    "document",
    [
        b"not json",
        {"keys": []},
        {"keys": [{"kty": "RSA", "kid": "broken", "n": "AQAB"}]},
        {"keys": "nope"},
    ],
    ids=["not_json", "empty", "unusable_key", "keys_not_a_list"],
)
async def test_a_bad_jwks_document_never_lets_a_token_through(
    make_policy, jwks_server, signer, document
):
    if isinstance(document, bytes):
        jwks_server.body = document
    else:
        jwks_server.document = document
    policy = make_policy()

    error = await refusal(policy, context(token=signer.token()))

    assert (error.status_code, error.reason) == (503, "jwks_unavailable")
    assert policy.keys.refresh_results == {"error": 1}


async def test_encryption_keys_never_verify_signatures(
    make_policy, jwks_server, signer, other_signer
):
    jwks_server.document = {"keys": [signer.jwk(), {**other_signer.jwk(), "use": "enc"}]}
    policy = make_policy()

    error = await refusal(policy, context(token=other_signer.token()))

    assert error.reason == "unknown_kid"


async def test_a_key_without_alg_verifies_each_allowed_algorithm_of_its_type(
    make_policy, jwks_server
):
    pss = Signer("pss-key", alg="PS256")
    jwks_server.document = {"keys": [pss.jwk(with_alg=False)]}
    policy = make_policy(algorithms=["RS256", "PS256"])

    assert await accepted(policy, pss.token()) == "user-1"
    pss.alg = "RS256"
    assert await accepted(policy, pss.token()) == "user-1"


async def test_a_key_declaring_its_alg_refuses_another_allowed_alg(
    make_policy, jwks_server, signer
):
    policy = make_policy(algorithms=["RS256", "PS256"])
    token = Signer(signer.kid, alg="PS256", key=signer.private).token()

    error = await refusal(policy, context(token=token))

    assert error.reason == "invalid_algorithm"


async def test_a_token_without_kid_uses_the_only_key(make_policy, jwks_server, signer):
    policy = make_policy()
    token = jwt.encode(payload(), signer.private, algorithm="RS256")

    assert await accepted(policy, token) == "user-1"


async def test_routes_naming_the_same_jwks_share_one_cache(jwks_server, http, signer):
    services = Services(http=http)
    config = JwtConfig(jwks_url=jwks_server.url, algorithms=["RS256"])
    orders, inventory = (
        JwtPolicy(config, route_name=name, services=services) for name in ("orders", "inventory")
    )
    await orders.startup()
    await inventory.startup()

    assert orders.keys is inventory.keys and orders.keys in live_caches()
    assert jwks_server.total == 1
    await inventory.on_request(context(token=signer.token(aud=None, iss=None)))


def test_caches_of_a_replaced_config_are_released(jwks_server):
    config = JwtConfig(jwks_url=jwks_server.url, algorithms=["RS256"])
    policy = JwtPolicy(config, route_name="orders", services=Services())
    cache = policy.keys
    assert cache in live_caches()

    del policy, cache
    gc.collect()

    assert not [c for c in live_caches() if c.url == jwks_server.url]
