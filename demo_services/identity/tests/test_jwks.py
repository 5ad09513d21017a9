"""The JWKS verifies tokens, with pyjwt and with a different JOSE library (jwcrypto)."""

from __future__ import annotations

import json

import pytest
from jwcrypto import jwk, jwt as jw

from tests.conftest import Client, password_token, verify

pytestmark = pytest.mark.usefixtures("seeded")


def test_jwks_publishes_public_keys_only(client: Client) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert "max-age=300" in response["Cache-Control"]
    [key] = response.json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_pyjwt_verifies_with_the_jwks(client: Client) -> None:
    token = password_token(client)
    assert verify(token, client.get("/.well-known/jwks.json").json())["sub"] == "demo"


def test_jwcrypto_verifies_with_the_jwks(client: Client) -> None:
    token = password_token(client)
    keyset = jwk.JWKSet.from_json(client.get("/.well-known/jwks.json").content)
    checked = jw.JWT(jwt=token, key=keyset, algs=["RS256"],
                     check_claims={"iss": "http://identity.local", "aud": "demo-api"})
    assert json.loads(checked.claims)["sub"] == "demo"


def test_jwks_generates_a_key_when_there_is_none(db: None, client: Client) -> None:
    assert len(client.get("/.well-known/jwks.json").json()["keys"]) == 1


def test_health_and_schema(client: Client) -> None:
    assert client.get("/health").status_code == 200
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/token" in schema.content
