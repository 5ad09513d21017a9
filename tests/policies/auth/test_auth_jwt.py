"""The jwt policy: what an accepted caller looks like upstream, where tokens come from,
the verified-token cache, other key sources (PEM file, HMAC secret), tokens minted by
another library, and the config it refuses."""

from __future__ import annotations

import json
import logging
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk as jwc_jwk
from jwcrypto import jwt as jwc_jwt
from pydantic import ValidationError

from gateway.policies import REGISTRY
from gateway.policies.base import Services
from gateway.policies.jwt import JwtConfig, JwtPolicy
from tests.policies.auth.helpers import (
    AUDIENCE,
    ISSUER,
    Clock,
    JwksServer,
    context,
    payload,
    refusal,
    www_authenticate,
)


async def test_valid_token_sets_identity_and_upstream_headers(make_jwt, signer):
    policy = make_jwt(scopes=["orders:read"])
    ctx = context(token=signer.token())

    assert await policy.on_request(ctx) is None

    assert (ctx.identity.consumer, ctx.identity.subject, ctx.identity.policy) == (
        "user-1",
        "user-1",
        "jwt",
    )
    assert ctx.identity.scopes == frozenset({"orders:read", "orders:write"})
    assert ctx.extra["upstream_headers"] == [
        ("X-Consumer", "user-1"),
        ("X-User-Id", "user-1"),
        ("X-Scopes", "orders:read orders:write"),
    ]
    assert set(policy.upstream_header_names) == {"X-Consumer", "X-User-Id", "X-Scopes"}
    assert REGISTRY["jwt"] is JwtPolicy and JwtPolicy.is_auth


async def test_scopes_from_an_scp_list(make_jwt, signer):
    policy = make_jwt(scopes=["inventory:read"])
    ctx = context(token=signer.token(scope=None, scp=["inventory:read", "orders:read"]))

    await policy.on_request(ctx)

    assert ctx.identity.scopes == frozenset({"inventory:read", "orders:read"})


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Bearer ", "Bearer"])
async def test_missing_token_is_a_challenge_without_error(make_jwt, authorization):
    policy = make_jwt()
    headers = {"Authorization": authorization} if authorization is not None else {}

    error = await refusal(policy, context(headers=headers))

    assert (error.status_code, error.reason, error.credentials_present) == (
        401,
        "missing_token",
        False,
    )
    assert www_authenticate(error) == 'Bearer realm="gateway"'


async def test_insufficient_scope_is_403_naming_the_scope(make_jwt, signer):
    policy = make_jwt(scopes=["orders:write", "orders:admin"])

    response = (await refusal(policy, context(token=signer.token()))).to_response("req-1")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith(
        'Bearer realm="gateway", error="insufficient_scope", error_description="'
    )
    assert challenge.endswith('scope="orders:admin orders:write"')
    assert json.loads(response.content)["request_id"] == "req-1"


async def test_expired_token_says_so_and_nothing_more(make_jwt, signer):
    policy = make_jwt()
    token = signer.token(exp=int(time.time()) - 60, iat=int(time.time()) - 600)

    response = (await refusal(policy, context(token=token))).to_response()

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == (
        'Bearer realm="gateway", error="invalid_token", error_description="The access token expired."'
    )
    assert json.loads(response.content)["detail"] == "The access token expired."


@pytest.mark.parametrize(("leeway", "accepted"), [(30, True), (0, False)])
async def test_leeway_tolerates_clock_skew(make_jwt, signer, leeway, accepted):
    policy = make_jwt(leeway=leeway)
    ctx = context(token=signer.token(exp=int(time.time()) - 5))

    if accepted:
        await policy.on_request(ctx)
        assert ctx.identity.subject == "user-1"
    else:
        assert (await refusal(policy, ctx)).reason == "expired"


async def test_claims_to_headers_are_forwarded_and_cannot_inject_headers(make_jwt, signer):
    policy = make_jwt(
        claims_to_headers={
            "email": "X-User-Email",
            "roles": "X-Roles",
            "tenant": "X-Tenant",
            "note": "X-Note",
        }
    )
    token = signer.token(
        email="ana@example.com", roles=["admin", "ops"], note="hi\r\nX-Consumer: root"
    )
    ctx = context(token=token)

    await policy.on_request(ctx)

    headers = dict(ctx.extra["upstream_headers"])
    assert headers["X-User-Email"] == "ana@example.com"
    assert headers["X-Roles"] == "admin,ops"
    assert "X-Tenant" not in headers
    assert headers["X-Note"] == "hi%0D%0AX-Consumer: root"
    assert {"X-User-Email", "X-Roles", "X-Tenant", "X-Note"} <= set(policy.upstream_header_names)


async def test_identity_header_names_are_configurable(make_jwt, signer):
    policy = make_jwt(
        identity_headers={"consumer": "X-Client", "subject": "X-Sub", "scopes": "X-Perms"},
        consumer_claim="client_id",
    )
    ctx = context(token=signer.token(client_id="mobile-app"))

    await policy.on_request(ctx)

    assert ctx.extra["upstream_headers"] == [
        ("X-Client", "mobile-app"),
        ("X-Sub", "user-1"),
        ("X-Perms", "orders:read orders:write"),
    ]
    assert ctx.identity.consumer == "mobile-app"


async def test_token_from_cookie_and_query_param_when_configured(make_jwt, signer):
    token = signer.token()
    policy = make_jwt(cookie="access_token", query_param="access_token")
    plain = make_jwt()

    from_cookie = context()
    from_cookie.request.COOKIES["access_token"] = token
    from_query = context(f"/api/orders?access_token={token}")
    await policy.on_request(from_cookie)
    await policy.on_request(from_query)

    assert from_cookie.identity.subject == from_query.identity.subject == "user-1"
    assert (
        await refusal(plain, context(f"/api/orders?access_token={token}"))
    ).reason == "missing_token"


async def test_authorization_header_wins_over_the_cookie(make_jwt, signer):
    policy = make_jwt(cookie="access_token")
    ctx = context(token=signer.token())
    ctx.request.COOKIES["access_token"] = "garbage"

    await policy.on_request(ctx)

    assert ctx.identity.subject == "user-1"


async def test_verified_token_cache_returns_the_same_identity(make_jwt, jwks_server, signer):
    policy = make_jwt(claims_to_headers={"email": "X-User-Email"})
    token = signer.token(email="ana@example.com")
    first, second = context(token=token), context(token=token)

    await policy.on_request(first)
    jwks_server.stop()
    await policy.on_request(second)

    assert second.identity == first.identity
    assert second.extra["upstream_headers"] == first.extra["upstream_headers"]
    assert (policy.cache.hits, len(policy.cache)) == (1, 1)


async def test_cached_token_is_not_served_past_its_expiry(make_jwt, signer):
    policy = make_jwt()
    clock = policy.cache.clock = Clock(time.time())
    token = signer.token(exp=int(clock.now) + 60)
    await policy.on_request(context(token=token))
    await policy.on_request(context(token=token))
    assert policy.cache.hits == 1

    clock.advance(56)  # within the 5 s margin before exp
    await policy.on_request(context(token=token))

    assert policy.cache.hits == 1, "served from the cache within the margin before exp"


async def test_cached_token_still_needs_the_scope(make_jwt, signer):
    policy = make_jwt(scopes=["orders:admin"])
    token = signer.token()

    errors = [await refusal(policy, context(token=token)) for _ in range(2)]

    assert [e.status_code for e in errors] == [403, 403]
    assert policy.cache.hits == 1


async def test_cache_can_be_disabled(make_jwt, signer):
    policy = make_jwt(cache_verified_tokens=False)

    await policy.on_request(context(token=signer.token()))

    assert policy.cache is None


async def test_refused_tokens_are_never_logged(make_jwt, jwks_server, signer, other_signer, caplog):
    caplog.set_level(logging.DEBUG)
    policy = make_jwt()
    tokens = [other_signer.token(), signer.token(aud="x")]
    for token in tokens:
        await refusal(policy, context(token=token))
    jwks_server.stop()
    policy.keys.clock = lambda: time.monotonic() + 10_000
    await refusal(policy, context(token=signer.token(headers={"kid": "new"})))

    logged = caplog.text
    assert caplog.records, "the failed refresh should be logged"
    assert not any(token.split(".")[1] in logged for token in tokens)


JWCRYPTO_KEYS = [
    ({"kty": "RSA", "size": 2048}, "RS256"),
    ({"kty": "RSA", "size": 2048}, "PS384"),
    ({"kty": "EC", "crv": "P-256"}, "ES256"),
    ({"kty": "OKP", "crv": "Ed25519"}, "EdDSA"),
]


@pytest.mark.parametrize(("params", "alg"), JWCRYPTO_KEYS, ids=[alg for _, alg in JWCRYPTO_KEYS])
async def test_token_minted_by_jwcrypto_verifies(http, params, alg):
    key = jwc_jwk.JWK.generate(kid=f"jwc-{alg}", **params)
    server = JwksServer({"keys": [{**key.export_public(as_dict=True), "alg": alg, "use": "sig"}]})
    try:
        config = JwtConfig(jwks_url=server.url, algorithms=[alg], issuer=ISSUER, audience=AUDIENCE)
        policy = JwtPolicy(config, route_name="r", services=Services(http=http))
        token = jwc_jwt.JWT(header={"alg": alg, "kid": key.key_id}, claims=payload(sub="jwc-user"))
        token.make_signed_token(key)
        ctx = context(token=token.serialize())

        await policy.on_request(ctx)
    finally:
        server.stop()

    assert ctx.identity.subject == "jwc-user"


@pytest.fixture
def pem_file(tmp_path, signer):
    path = tmp_path / "public.pem"
    path.write_bytes(
        signer.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return str(path)


async def test_public_key_file_verifies_without_any_fetch(pem_file, signer, other_signer):
    config = JwtConfig(
        public_key_file=pem_file, algorithms=["RS256"], issuer=ISSUER, audience=AUDIENCE
    )
    policy = JwtPolicy(config, route_name="r", services=Services())
    ctx = context(token=signer.token(headers={"kid": "whatever"}))

    await policy.on_request(ctx)

    assert ctx.identity.subject == "user-1"
    assert (
        await refusal(policy, context(token=other_signer.token()))
    ).reason == "invalid_signature"


def test_public_key_file_must_be_a_public_key_of_the_right_type(tmp_path, signer):
    private = tmp_path / "private.pem"
    private.write_bytes(
        signer.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ec_public = tmp_path / "ec.pem"
    ec_public.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    with pytest.raises(ValidationError, match="private key"):
        JwtConfig(public_key_file=str(private), algorithms=["RS256"])
    with pytest.raises(ValidationError, match="does not suit RS256"):
        JwtConfig(public_key_file=str(ec_public), algorithms=["RS256"])


SECRET = "s3cret-of-at-least-thirty-two-bytes!"


async def test_hmac_secret_verifies_hs256():
    config = JwtConfig(secret=SECRET, algorithms=["HS256"], issuer=ISSUER, audience=AUDIENCE)
    policy = JwtPolicy(config, route_name="r", services=Services())
    good = jwt.encode(payload(), SECRET, algorithm="HS256")
    forged = jwt.encode(payload(), SECRET + "x", algorithm="HS256")
    ctx = context(token=good)

    await policy.on_request(ctx)

    assert ctx.identity.subject == "user-1"
    assert (await refusal(policy, context(token=forged))).reason == "invalid_signature"
    assert SECRET not in repr(config)


BAD_CONFIGS = [
    ("no_algorithms", {"jwks_url": "http://idp/jwks"}, "algorithms"),
    ("empty_algorithms", {"jwks_url": "http://idp/jwks", "algorithms": []}, "algorithms"),
    ("alg_none", {"jwks_url": "http://idp/jwks", "algorithms": ["none"]}, "algorithms"),
    (
        "mixed_hmac_and_rsa",
        {"jwks_url": "http://idp/jwks", "algorithms": ["RS256", "HS256"]},
        "cannot share",
    ),
    ("no_key_source", {"algorithms": ["RS256"]}, "exactly one"),
    (
        "two_key_sources",
        {"jwks_url": "http://idp/jwks", "secret": SECRET, "algorithms": ["RS256"]},
        "exactly one",
    ),
    ("hmac_with_jwks", {"jwks_url": "http://idp/jwks", "algorithms": ["HS256"]}, "need `secret`"),
    ("secret_with_rsa", {"secret": SECRET, "algorithms": ["RS256"]}, "need `secret`"),
    ("short_secret", {"secret": "short", "algorithms": ["HS256"]}, "at least 32 bytes"),
    ("hs512_needs_64_bytes", {"secret": SECRET, "algorithms": ["HS512"]}, "at least 64 bytes"),
    ("jwks_url_not_http", {"jwks_url": "file:///etc/jwks.json", "algorithms": ["RS256"]}, "http"),
    (
        "header_to_host",
        {
            "jwks_url": "http://idp/jwks",
            "algorithms": ["RS256"],
            "claims_to_headers": {"h": "Host"},
        },
        "set by the gateway",
    ),
    (
        "header_not_a_token",
        {
            "jwks_url": "http://idp/jwks",
            "algorithms": ["RS256"],
            "claims_to_headers": {"h": "X Bad"},
        },
        "not a valid header",
    ),
    (
        "header_reuses_identity",
        {
            "jwks_url": "http://idp/jwks",
            "algorithms": ["RS256"],
            "claims_to_headers": {"h": "x-consumer"},
        },
        "identity header",
    ),
    (
        "unknown_option",
        {"jwks_url": "http://idp/jwks", "algorithms": ["RS256"], "verify": False},
        "verify",
    ),
]


@pytest.mark.parametrize(
    ("options", "message"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_config_refuses(options, message):
    with pytest.raises(ValidationError, match=message):
        JwtConfig.model_validate(options)


def test_every_config_field_is_described():
    assert all(field.description for field in JwtConfig.model_fields.values())
