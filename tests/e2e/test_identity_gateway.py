"""The real identity service and the real gateway: tokens, identity headers, rotation.

The identity service runs under granian on a temporary SQLite database (migrated and
seeded with ``seed_demo``); the gateway protects an echo upstream with the ``jwt``
policy reading the identity service's JWKS. Rotation uses the management command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import ROOT, GatewayProcess
from tests.support.net import free_port
from tests.support.upstream import Upstream, parse_echo

SERVICE_DIR = ROOT / "demo_services" / "identity"
ISSUER, AUDIENCE = "http://identity.local", "demo-api"
SPOOFED = {"X-Consumer": "admin", "X-User-Id": "root", "X-Scopes": "admin:all"}


class Identity:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))
        self.env = {**os.environ, "DATABASE_URL": f"sqlite:///{workdir / 'identity.sqlite3'}",
                    "PYTHONPATH": path, "OTEL_SDK_DISABLED": "true", "PYTHONUNBUFFERED": "1",
                    "DJANGO_SETTINGS_MODULE": "identity_service.settings"}
        self.log = open(workdir / "identity.log", "wb")
        self.proc: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=SERVICE_DIR, env=self.env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> Identity:
        self.manage("migrate", "--noinput")
        self.manage("seed_demo")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", "1", "--no-ws", "--log-level", "warning",
             "identity_service.asgi:application"],
            cwd=SERVICE_DIR, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, "identity exited"
            try:
                if httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise TimeoutError("identity service not ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        self.log.close()

    def token(self, **form: str) -> str:
        form = form or {"grant_type": "password", "username": "demo", "password": "demo-password"}
        response = httpx.post(f"{self.url}/token", data=form, timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


def jwt_route(name: str, prefix: str, identity: Identity, scopes: list[str]) -> dict:
    policy = {"jwks_url": f"{identity.url}/.well-known/jwks.json", "algorithms": ["RS256"],
              "issuer": ISSUER, "audience": AUDIENCE, "scopes": scopes,
              "cache_verified_tokens": False, "jwks_refresh_cooldown": 0}
    return {"name": name, "match": {"path_prefix": prefix}, "upstream": "api",
            "policies": [{"jwt": policy}]}


@pytest.fixture(scope="module")
def identity() -> Iterator[Identity]:
    with tempfile.TemporaryDirectory(prefix="identity-e2e-") as workdir:
        service = Identity(Path(workdir)).start()
        yield service
        service.stop()


@pytest.fixture(scope="module")
def gateway(identity: Identity) -> Iterator[GatewayProcess]:
    upstream = Upstream("api").start()
    config = {"upstreams": {"api": {"targets": [upstream.url]}},
              "routes": [jwt_route("orders", "/orders", identity, ["orders:read"]),
                         jwt_route("admin", "/admin", identity, ["admin:write"])]}
    with GatewayProcess(config) as process:
        yield process
    upstream.stop()


def call(gateway: GatewayProcess, path: str, token: str | None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(f"{gateway.url}{path}", headers=headers, timeout=10)


def seen(response: httpx.Response, name: str) -> list[str]:
    return [v for k, v in parse_echo(response)["headers"] if k.lower() == name.lower()]


def test_upstream_sees_the_gateways_identity_headers_not_the_spoofed_ones(identity, gateway):
    response = call(gateway, "/orders/1", identity.token(), **SPOOFED)
    assert response.status_code == 200, response.text
    assert seen(response, "X-Consumer") == ["demo"] and seen(response, "X-User-Id") == ["demo"]
    scopes = "inventory:read notifications:read orders:read orders:write"
    assert seen(response, "X-Scopes") == [scopes]


def test_client_credentials_token_names_the_client(identity, gateway):
    token = identity.token(grant_type="client_credentials", client_id="demo-client",
                           client_secret="demo-secret")
    response = call(gateway, "/orders", token)
    assert response.status_code == 200 and seen(response, "X-Consumer") == ["demo-client"]


def test_no_token_is_401_with_a_bearer_challenge(gateway):
    response = call(gateway, "/orders", None, **SPOOFED)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_without_the_routes_scope_is_403(identity, gateway):
    response = call(gateway, "/admin", identity.token())
    assert response.status_code == 403


def test_rotation_old_and_new_tokens_work_and_a_withdrawn_key_fails(identity, gateway):
    old = identity.token()
    assert call(gateway, "/orders", old).status_code == 200
    identity.manage("rotate_signing_key")
    new = identity.token()
    assert call(gateway, "/orders", new).status_code == 200  # unknown kid: JWKS refreshed
    assert call(gateway, "/orders", old).status_code == 200
    identity.manage("rotate_signing_key")
    doomed = identity.token()
    identity.manage("rotate_signing_key", "--grace", "0")  # withdraws doomed's key at once
    response = call(gateway, "/orders", doomed)
    assert response.status_code == 401 and "invalid_token" in response.headers["WWW-Authenticate"]
    assert call(gateway, "/orders", old).status_code == 200
