"""The api_key policy: keys stored hashed, matched by digest, refused without detail."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError

from gateway.policies.api_key import ApiKeyConfig, ApiKeyPolicy, digest_table, hash_key
from gateway.policies.base import Services
from tests.policies.auth.helpers import context, refusal

PARTNER_KEY = "pk_live_7f3c9a1e2b4d"
OTHER_KEY = "pk_live_other_0000"


@dataclass
class Consumer:
    name: str
    api_keys: list[str] = field(default_factory=list)


CONSUMERS = [
    Consumer("partner-a", [hash_key(PARTNER_KEY)]),
    Consumer("partner-b", [hash_key(OTHER_KEY), hash_key("old-key")]),
]


def make(**options) -> ApiKeyPolicy:
    return ApiKeyPolicy(
        ApiKeyConfig(**options), route_name="partners", services=Services(consumers=CONSUMERS)
    )


async def test_valid_key_identifies_its_consumer():
    policy = make()
    ctx = context(headers={"X-API-Key": PARTNER_KEY})

    assert await policy.on_request(ctx) is None

    assert (ctx.identity.consumer, ctx.identity.policy) == ("partner-a", "api_key")
    assert ctx.extra["upstream_headers"] == [("X-Consumer", "partner-a")]
    assert policy.upstream_header_names == ("X-Consumer",)


async def test_any_of_a_consumers_keys_works():
    ctx = context(headers={"X-API-Key": "old-key"})

    await make().on_request(ctx)

    assert ctx.identity.consumer == "partner-b"


@pytest.mark.parametrize(
    "key",
    ["wrong", PARTNER_KEY + "x", PARTNER_KEY[:-1], PARTNER_KEY.upper(), hash_key(PARTNER_KEY)],
)
async def test_invalid_key_is_refused(key):
    error = await refusal(make(), context(headers={"X-API-Key": key}))

    assert (error.status_code, error.reason, error.credentials_present) == (
        401,
        "invalid_api_key",
        True,
    )
    assert PARTNER_KEY not in error.detail and key not in error.to_response().content.decode()


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": ""}, {"X-API-Key": "   "}, {"Authorization": f"Bearer {PARTNER_KEY}"}],
)
async def test_missing_key_is_refused_as_missing(headers):
    error = await refusal(make(), context(headers=headers))

    assert (error.status_code, error.reason, error.credentials_present) == (
        401,
        "missing_api_key",
        False,
    )


async def test_configurable_and_alternative_header_names():
    policy = make(header=["X-API-Key", "apikey"])
    ctx = context(headers={"apikey": PARTNER_KEY})

    await policy.on_request(ctx)

    assert ctx.identity.consumer == "partner-a"
    assert (
        await refusal(make(header="apikey"), context(headers={"X-API-Key": PARTNER_KEY}))
    ).reason == "missing_api_key"


async def test_route_can_allow_only_some_consumers():
    policy = make(consumers=["partner-b"])

    error = await refusal(policy, context(headers={"X-API-Key": PARTNER_KEY}))

    assert (error.status_code, error.reason) == (403, "consumer_not_allowed")


async def test_oversized_key_is_refused():
    error = await refusal(make(), context(headers={"X-API-Key": "k" * 5000}))

    assert error.reason == "api_key_too_large"


def test_lookup_holds_only_digests_never_the_keys():
    """The constant-time path: the table is keyed by sha256 digests built once."""
    policy = make()

    digest = hashlib.sha256(PARTNER_KEY.encode()).digest()
    assert policy.by_digest[digest] == (digest, "partner-a")
    assert all(len(d) == 32 for d in policy.by_digest)
    assert PARTNER_KEY.encode() not in b"".join(policy.by_digest)


@pytest.mark.parametrize(
    ("consumers", "message"),
    [
        ([Consumer("a", ["plain"])], "sha256:<hex>"),
        ([Consumer("a", ["sha256:abcd"])], "64 hex digits"),
        ([Consumer("a", [hash_key("k")]), Consumer("b", [hash_key("k")])], "share an API key"),
    ],
    ids=["unhashed", "short_digest", "shared_key"],
)
def test_bad_consumer_keys_stop_the_config(consumers, message):
    with pytest.raises(ValueError, match=message):
        digest_table(consumers)


def test_config_refuses_reserved_or_malformed_header_names():
    with pytest.raises(ValidationError):
        ApiKeyConfig(header="Authorization")
    with pytest.raises(ValidationError):
        ApiKeyConfig(header=[])
    with pytest.raises(ValidationError):
        ApiKeyConfig(consumer_header="X Consumer")
    assert all(f.description for f in ApiKeyConfig.model_fields.values())
