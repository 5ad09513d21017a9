"""Fixtures for the auth tests: RSA keys, the JWKS server, a real httpx client and a
jwt policy factory (helpers live in ``helpers.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.policies.base import Services
from gateway.policies.jwt import JwtConfig, JwtPolicy
from tests.policies.auth.helpers import AUDIENCE, ISSUER, JwksServer, Signer


@pytest.fixture(scope="session")
def signer() -> Signer:
    return Signer("key-1")


@pytest.fixture(scope="session")
def other_signer() -> Signer:
    return Signer("key-2")


@pytest.fixture
def jwks_server(signer: Signer) -> Iterator[JwksServer]:
    server = JwksServer({"keys": [signer.jwk()]})
    yield server
    server.stop()


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def make_jwt(jwks_server: JwksServer, http: httpx.AsyncClient):
    """Build a jwt policy against the test JWKS server; options override the defaults."""
    made: list[JwtPolicy] = []

    def make(**options: Any) -> JwtPolicy:
        defaults = {
            "jwks_url": jwks_server.url,
            "algorithms": ["RS256"],
            "issuer": ISSUER,
            "audience": AUDIENCE,
        }
        config = JwtConfig(**{**defaults, **options})
        policy = JwtPolicy(config, route_name="orders", services=Services(http=http))
        made.append(policy)
        return policy

    yield make
