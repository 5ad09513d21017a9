"""Helpers for the auth tests: a real JWKS HTTP server on a loopback port that counts its
hits, RSA signers, token claims, request contexts built with Django's RequestFactory."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import RequestFactory

from gateway.context import RequestContext
from gateway.errors import GatewayError

ISSUER = "https://identity.test"
AUDIENCE = "gateway-tests"


class Clock:
    """Seconds that only move when told to."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class JwksServer:
    """A JWKS endpoint on a free loopback port, in a thread; counts requests per path."""

    def __init__(self, document: dict[str, Any] | None = None) -> None:
        self.document: dict[str, Any] = document or {"keys": []}
        self.hits: Counter[str] = Counter()
        self.delay = 0.0
        self.status = 200
        #: served instead of the document when set (e.g. a body that is not JSON)
        self.body: bytes | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/.well-known/jwks.json"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits[self.path] += 1
                if owner.delay:
                    time.sleep(owner.delay)
                body = owner.body if owner.body is not None else json.dumps(owner.document).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        return Handler

    @property
    def total(self) -> int:
        return sum(self.hits.values())

    def stop(self) -> None:
        """Stop listening: further fetches get 'connection refused'."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class Signer:
    """An RSA key pair with a kid: its public JWK and tokens signed with it."""

    def __init__(
        self, kid: str, *, alg: str = "RS256", key: rsa.RSAPrivateKey | None = None
    ) -> None:
        self.kid, self.alg = kid, alg
        self.private = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public = self.private.public_key()

    def jwk(self, *, with_alg: bool = True) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.public, as_dict=True)
        jwk.update(kid=self.kid, use="sig")
        if with_alg:
            jwk["alg"] = self.alg
        return jwk

    def token(self, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        return jwt.encode(
            payload(**claims),
            self.private,
            algorithm=self.alg,
            headers={"kid": self.kid, **(headers or {})},
        )


def payload(**overrides: Any) -> dict[str, Any]:
    """Claims of a valid token; an override set to None removes that claim."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": now,
        "exp": now + 300,
        "scope": "orders:read orders:write",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def context(
    path: str = "/api/orders",
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> RequestContext:
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
    if token is not None:
        meta["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    request = RequestFactory().get(path, **meta, **extra)
    return RequestContext(
        request=request,
        route=None,
        path=path.split("?")[0],
        client_ip="127.0.0.1",
        request_id="req-1",
    )


async def refusal(policy: Any, ctx: RequestContext) -> GatewayError:
    """The error a policy answers with; fails the test when the policy accepts."""
    try:
        await policy.on_request(ctx)
    except GatewayError as error:
        return error
    pytest.fail(f"{policy.name} accepted a request it should refuse (identity {ctx.identity})")


def www_authenticate(error: GatewayError) -> str:
    return dict(error.headers).get("WWW-Authenticate", "")
