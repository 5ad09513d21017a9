"""POST /token: both grants, the claims, and every error of RFC 6749 5.2."""

from __future__ import annotations

import base64

import jwt
import pytest
from django.test import Client as DjangoClient

from tests.conftest import Client, get_token, password_token, verify

pytestmark = pytest.mark.usefixtures("seeded")
DEMO_SCOPES = ["orders:read", "orders:write", "inventory:read", "notifications:read"]


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_password_grant_returns_a_bearer_token(client: Client) -> None:
    body = get_token(client, grant_type="password", username="demo", password="demo-password")
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["scope"].split() == DEMO_SCOPES


def test_token_claims_and_kid(client: Client) -> None:
    token = password_token(client)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"]
    claims = verify(token, client.get("/.well-known/jwks.json").json())
    assert claims["iss"] == "http://identity.local" and claims["aud"] == "demo-api"
    assert claims["sub"] == "demo" and claims["scope"].split() == DEMO_SCOPES
    assert claims["exp"] - claims["iat"] == 900 and claims["nbf"] == claims["iat"]
    assert len(claims["jti"]) == 32


def test_jti_is_unique(client: Client) -> None:
    first, second = (jwt.decode(password_token(client), options={"verify_signature": False})
                     for _ in range(2))
    assert first["jti"] != second["jti"]


def test_requested_scope_narrows_the_token(client: Client) -> None:
    body = get_token(client, grant_type="password", username="demo", password="demo-password",
                     scope="orders:read")
    assert body["scope"] == "orders:read"


@pytest.mark.parametrize("how", ["form", "basic"])
def test_client_credentials_grant(client: Client, how: str) -> None:
    if how == "form":
        form = {"grant_type": "client_credentials", "client_id": "demo-client",
                "client_secret": "demo-secret"}
        response = client.post("/token", form)
    else:
        response = client.post("/token", {"grant_type": "client_credentials"},
                               headers={"Authorization": basic("demo-client", "demo-secret")})
    assert response.status_code == 200, response.content
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "demo-client" and claims["client_id"] == "demo-client"


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "password", "username": "demo", "password": "wrong"}, 400, "invalid_grant"),
        ({"grant_type": "password", "username": "nobody", "password": "x"}, 400, "invalid_grant"),
        ({"grant_type": "password", "username": "demo"}, 400, "invalid_request"),
        ({"grant_type": "client_credentials", "client_id": "demo-client",
          "client_secret": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "nobody",
          "client_secret": "x"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, 401, "invalid_client"),
        ({"grant_type": "authorization_code", "code": "x"}, 400, "unsupported_grant_type"),
        ({}, 400, "invalid_request"),
        ({"grant_type": "password", "username": "demo", "password": "demo-password",
          "scope": "admin"}, 400, "invalid_scope"),
    ],
)
def test_errors(client: Client, form: dict[str, str], status: int, error: str) -> None:
    response = client.post("/token", form)
    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["error_description"]
    assert response["Cache-Control"] == "no-store"
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Basic")


def test_malformed_basic_credentials_is_invalid_client(client: Client) -> None:
    response = client.post("/token", {"grant_type": "client_credentials"},
                           headers={"Authorization": "Basic !!!"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_inactive_client_is_refused(client: Client) -> None:
    from accounts.models import ServiceClient

    ServiceClient.objects.filter(client_id="demo-client").update(is_active=False)
    response = client.post("/token", {"grant_type": "client_credentials",
                                      "client_id": "demo-client", "client_secret": "demo-secret"})
    assert response.status_code == 401


def test_a_json_body_is_invalid_request(client: Client) -> None:
    response = DjangoClient().post("/token", {"grant_type": "password"},
                                   content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
