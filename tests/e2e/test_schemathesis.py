"""Schemathesis against the demo services' OpenAPI schemas, through the real gateway: no 5xx.

identity, orders, inventory and notifications run as real processes (no Celery workers: the
filesystem broker just queues the events) behind the real gateway with a copy of the demo
config whose ``rate_limit`` policies are removed, so the fuzzing is not throttled to 429s.
Each service's schema is fetched from the service itself (the gateway does not route
``/api/schema/``); schemathesis sends its requests to the gateway (identity's base is
``<gateway>/auth`` for ``POST /token``, the gateway strips the prefix; its JWKS is routed
unprefixed) with a real token from the password grant, checking only ``not_a_server_error``.
Seeded and bounded: a handful of examples per operation. Each run must also have reached its
service, with some 2xx answers (so an unaccepted token cannot make the test pass vacuously).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from demo_services.common.testing import ServiceProcess, start_services
from tests.support.gateway import ROOT, GatewayProcess

pytestmark = pytest.mark.timeout(240)

# (service, the gateway prefix its schema's paths are served under, the paths to test):
# the gateway routes identity's POST /token as /auth/token, its JWKS unprefixed;
# /api/schema/ itself is not routed.
RUNS = {"identity-token": ("identity", "/auth", r"^/token$"),
        "identity-jwks": ("identity", "", r"^/\.well-known/"),
        "inventory": ("inventory", "", r"^/(?!api/schema/)"),
        "orders": ("orders", "", r"^/(?!api/schema/)"),
        "notifications": ("notifications", "", r"^/(?!api/schema/)")}
SEED, MAX_EXAMPLES = 20240901, 15


def demo_config_without_rate_limits() -> dict:
    config = yaml.safe_load((ROOT / "gateway" / "demo" / "gateway.yaml").read_text())
    config.pop("x-jwt", None)  # the anchor is merged into the routes already
    for route in config["routes"]:
        route["policies"] = [p for p in route.get("policies", []) if "rate_limit" not in p]
    return config


def access_log(text: str) -> Iterator[dict]:
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == "access":
            yield entry


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[GatewayProcess, dict[str, ServiceProcess]]]:
    with tempfile.TemporaryDirectory(prefix="schemathesis-e2e-") as tmp:
        workdir = Path(tmp)
        run = uuid.uuid4().hex[:8]
        env = {"CELERY_BROKER_URL": "filesystem://", "CELERY_FS_DIR": str(workdir / "broker"),
               "NOTIFICATIONS_QUEUE": f"st-notifications-{run}",
               "INVENTORY_QUEUE": f"st-inventory-{run}"}
        procs: dict[str, ServiceProcess] = {}
        try:
            urls = start_services(env, workdir, procs)
            with GatewayProcess(demo_config_without_rate_limits(),
                                env={**env, **urls}) as gateway:
                yield gateway, procs
        finally:
            for proc in procs.values():
                proc.stop()


@pytest.fixture(scope="module")
def token(stack: tuple[GatewayProcess, dict[str, ServiceProcess]]) -> str:
    gateway, _ = stack
    form = {"grant_type": "password", "username": "demo", "password": "demo-password"}
    response = httpx.post(f"{gateway.url}/auth/token", data=form, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.mark.parametrize("run", RUNS)
def test_no_server_errors_through_the_gateway(run: str, stack, token: str,
                                              tmp_path: Path) -> None:
    gateway, procs = stack
    service, base, paths = RUNS[run]
    schema = httpx.get(f"{procs[service].url}/api/schema/", params={"format": "json"},
                       headers={"Accept": "application/json"}, timeout=10)
    assert schema.status_code == 200, schema.text
    schema_path = tmp_path / f"{service}.json"
    schema_path.write_text(json.dumps(schema.json()))
    cli = Path(sys.executable).with_name("schemathesis")
    assert cli.exists(), "schemathesis is missing: pip install -e '.[test]'"
    cmd = [str(cli), "run", str(schema_path), "--url", gateway.url + base,
           "--include-path-regex", paths,
           "--header", f"Authorization: Bearer {token}",
           "--checks", "not_a_server_error",
           "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
           "--generation-database", "none", "--workers", "1",
           "--request-timeout", "15", "--no-color", "--warnings", "off"]
    log_start = len(gateway.logs())
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=200,
                          env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    report = (f"$ {' '.join(cmd)}\n{done.stdout}\n{done.stderr}\n"
              f"--- {service} log ---\n{procs[service].logs()[-6000:]}\n"
              f"--- gateway log (tail) ---\n{gateway.logs()[-4000:]}")
    print(done.stdout)
    assert done.returncode == 0, report
    # the requests went through to the service and (the token being accepted) some succeeded;
    # random grants at /token only earn 400/401
    statuses = Counter(entry["status"] for entry in access_log(gateway.logs()[log_start:])
                       if entry.get("upstream") == service)
    print(f"{run}: statuses through the gateway {dict(sorted(statuses.items()))}")
    assert statuses, "no request reached the service"
    if run != "identity-token":
        assert any(200 <= code < 300 for code in statuses), statuses
