"""The attack table: tokens a hostile client may send, and what the gateway answers.

Each case is minted fresh against the real JWKS server of the test; ``jku``/``x5u``
cases point at a second server holding the attacker's key, which must never be asked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.policies.auth.helpers import (
    JwksServer,
    Signer,
    context,
    payload,
    refusal,
    www_authenticate,
)


@dataclass
class Kit:
    signer: Signer
    attacker: Signer
    attacker_url: str


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: dict) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def hs256_with_public_pem(kit: Kit) -> str:
    """The classic key-confusion token, built by hand (pyjwt refuses a PEM as HMAC secret)."""
    pem = kit.signer.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kit.signer.kid})}.{segment(payload())}"
    )
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def hand_signed(signer: Signer, header: dict) -> str:
    """RS256 over a header pyjwt would refuse to write."""
    signing_input = f"{segment({'alg': 'RS256', **header})}.{segment(payload())}"
    signature = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).sign(
        signing_input.encode(), signer.private
    )
    return f"{signing_input}.{b64(signature)}"


def alg_none(kit: Kit) -> str:
    return f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': kit.signer.kid})}.{segment(payload())}."


def tampered(kit: Kit) -> str:
    header, _, signature = kit.signer.token().split(".")
    return f"{header}.{segment(payload(scope='orders:read orders:write admin', sub='admin'))}.{signature}"


def truncated(kit: Kit) -> str:
    token = kit.signer.token()
    return token[: token.index(".") + 10]


def signed_by_attacker_with_our_kid(extra_header: Callable[[Kit], dict]) -> Callable[[Kit], str]:
    def make(kit: Kit) -> str:
        headers = {"kid": kit.signer.kid, **extra_header(kit)}
        return jwt.encode(
            payload(sub="admin"), kit.attacker.private, algorithm="RS256", headers=headers
        )

    return make


def large(kit: Kit) -> str:
    return kit.signer.token(padding="x" * 100_000)


CASES = [
    ("alg_none", alg_none, 401, "invalid_algorithm"),
    ("hs256_signed_with_rs256_public_pem", hs256_with_public_pem, 401, "invalid_algorithm"),
    (
        "rs512_when_only_rs256_allowed",
        lambda k: jwt.encode(
            payload(), k.signer.private, algorithm="RS512", headers={"kid": k.signer.kid}
        ),
        401,
        "invalid_algorithm",
    ),
    ("unknown_kid", lambda k: k.attacker.token(), 401, "unknown_kid"),
    (
        "kid_path_traversal",
        lambda k: k.signer.token(headers={"kid": "../../../../etc/passwd"}),
        401,
        "unknown_kid",
    ),
    (
        "kid_sql_injection",
        lambda k: k.signer.token(headers={"kid": "' OR '1'='1' --"}),
        401,
        "unknown_kid",
    ),
    (
        "kid_not_a_string",
        lambda k: hand_signed(k.signer, {"kid": {"$ne": None}}),
        401,
        "invalid_token",
    ),
    ("kid_too_long", lambda k: k.signer.token(headers={"kid": "k" * 5000}), 401, "invalid_kid"),
    (
        "jku_points_elsewhere",
        signed_by_attacker_with_our_kid(lambda k: {"jku": k.attacker_url}),
        401,
        "invalid_signature",
    ),
    (
        "x5u_points_elsewhere",
        signed_by_attacker_with_our_kid(lambda k: {"x5u": k.attacker_url}),
        401,
        "invalid_signature",
    ),
    (
        "embedded_jwk_header",
        signed_by_attacker_with_our_kid(lambda k: {"jwk": k.attacker.jwk()}),
        401,
        "invalid_signature",
    ),
    (
        "expired",
        lambda k: k.signer.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        401,
        "expired",
    ),
    (
        "nbf_in_the_future",
        lambda k: k.signer.token(nbf=int(time.time()) + 3600),
        401,
        "not_yet_valid",
    ),
    ("wrong_issuer", lambda k: k.signer.token(iss="https://evil.example"), 401, "invalid_issuer"),
    (
        "issuer_prefix_only",
        lambda k: k.signer.token(iss="https://identity.test.evil.example"),
        401,
        "invalid_issuer",
    ),
    ("wrong_audience", lambda k: k.signer.token(aud="another-service"), 401, "invalid_audience"),
    ("missing_exp", lambda k: k.signer.token(exp=None), 401, "missing_claim"),
    ("missing_sub", lambda k: k.signer.token(sub=None), 401, "missing_claim"),
    (
        "unknown_crit_header",
        lambda k: k.signer.token(headers={"crit": ["x-custom"], "x-custom": 1}),
        401,
        "invalid_token",
    ),
    ("tampered_payload", tampered, 401, "invalid_signature"),
    ("truncated", truncated, 401, "invalid_token"),
    ("100_kb_token", large, 401, "token_too_large"),
    ("100_kb_junk", lambda k: "A" * 100_000, 401, "token_too_large"),
    (
        "valid_but_missing_route_scope",
        lambda k: k.signer.token(scope="orders:read"),
        403,
        "insufficient_scope",
    ),
]


@pytest.fixture
def attacker_server(other_signer: Signer):
    server = JwksServer({"keys": [other_signer.jwk()]})
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("make_token", "status", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_attack_is_refused(
    make_jwt, jwks_server, attacker_server, signer, other_signer, make_token, status, reason
):
    policy = make_jwt(scopes=["orders:read", "orders:write"])
    token = make_token(Kit(signer, other_signer, attacker_server.url))
    ctx = context(token=token)

    error = await refusal(policy, ctx)

    assert (error.status_code, error.reason) == (status, reason)
    assert error.credentials_present is True
    assert ctx.identity is None and "upstream_headers" not in ctx.extra
    assert attacker_server.total == 0, "a token header made the gateway fetch a URL"
    expected_error = "insufficient_scope" if status == 403 else "invalid_token"
    assert f'error="{expected_error}"' in www_authenticate(error)
    assert token[:40] not in error.to_response().content.decode(), "the token is echoed back"


async def test_oversized_token_is_refused_before_any_key_lookup(make_jwt, jwks_server, signer):
    policy = make_jwt()

    error = await refusal(policy, context(token=large(Kit(signer, signer, ""))))

    assert error.reason == "token_too_large"
    assert jwks_server.total == 0


async def test_bogus_kids_are_unknown_after_at_most_one_refresh(make_jwt, jwks_server, signer):
    """The table's kid attacks together cost the identity service one extra fetch at most."""
    policy = make_jwt()
    await policy.startup()
    for kid in ("../../etc/passwd", "' OR 1=1 --", "%00", "a" * 256):
        error = await refusal(policy, context(token=signer.token(headers={"kid": kid})))
        assert error.reason == "unknown_kid"

    assert jwks_server.total <= 2
