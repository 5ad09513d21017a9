from __future__ import annotations

import sys
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from django.core.management import call_command
from django.test import Client as DjangoClient


class Client(DjangoClient):
    """Posts ``application/x-www-form-urlencoded``, as OAuth clients do (RFC 6749 4.3.2)."""

    def post(self, path: str, data: Any = None, **extra: Any) -> Any:  # type: ignore[override]
        body = urlencode(data or {})
        return super().post(path, body, content_type="application/x-www-form-urlencoded", **extra)


ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:  # the shared `observability` package; last, so `tests` stays ours
    sys.path.append(ROOT)


@pytest.fixture(autouse=True)
def fast_hashers(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def seeded(db: None) -> None:
    call_command("seed_demo", stdout=StringIO())


@pytest.fixture
def client() -> Client:
    return Client()


def get_token(client: Client, **form: str) -> dict[str, Any]:
    response = client.post("/token", form)
    assert response.status_code == 200, response.content
    return response.json()


def password_token(client: Client, **extra: str) -> str:
    form = {"grant_type": "password", "username": "demo", "password": "demo-password", **extra}
    return str(get_token(client, **form)["access_token"])


def verify(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Verify with pyjwt against the key of the JWKS named by the token's kid."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    return jwt.decode(token, key, algorithms=["RS256"], audience="demo-api",
                      issuer="http://identity.local")
