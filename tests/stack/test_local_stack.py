"""The local stack (``make run`` -> demo_services/stack.py) runs the same processes with
the same settings as docker-compose.yml, minus the containers. A static comparison:
stack.py's process table and environment against the compose services."""

from __future__ import annotations

import ast
import re

import pytest
import yaml

from tests.stack.conftest import APP_SERVICES, PROMETHEUS, ROOT

stack = pytest.importorskip("demo_services.stack")
STACK_SOURCE = (ROOT / "demo_services" / "stack.py").read_text()


def _stack_processes() -> set[str]:
    workers = {f"{name}-worker" for name in stack.WORKERS}
    return {"gateway", *stack.SERVICES, *workers}


def test_same_python_processes_as_compose(compose):
    python_services = {name for name, s in compose["services"].items()
                       if (s.get("build") or {}).get("context") == "."}
    assert python_services == APP_SERVICES
    assert _stack_processes() == python_services


def test_workers_consume_the_same_queues(compose):
    for owner, queue in stack.WORKERS.items():
        env = compose["services"][f"{owner}-worker"]["environment"]
        assert queue == owner == env["OTEL_SERVICE_NAME"]  # compose: -Q ${OTEL_SERVICE_NAME}


def _stack_env_names() -> set[str]:
    """Every environment variable name stack.py sets for its children."""
    names = set(re.findall(r'"([A-Z][A-Z0-9_]+)":', STACK_SOURCE))
    if 'f"{n.upper()}_URL"' in STACK_SOURCE:
        names |= {f"{name.upper()}_URL" for name in stack.SERVICES}
    return names - {"PYTHONPATH", "CELERY_FS_DIR"}  # local-only: no image, filesystem broker


def test_same_settings_reach_the_same_processes(compose):
    names = _stack_env_names()
    assert {"DATABASE_URL", "OTEL_SERVICE_NAME", "CELERY_BROKER_URL", "IDENTITY_URL"} <= names
    for service in APP_SERVICES:
        env = compose["services"][service]["environment"]
        expected = names - ({"DATABASE_URL"} if service == "gateway" else set())
        missing = expected - set(env)
        assert not missing, f"{service}: compose lacks {missing} that the local stack sets"


def test_same_servers_and_entrypoints(compose):
    tree = ast.parse(STACK_SOURCE)
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert {"granian", "celery", "gateway", "serve"} <= strings
    assert 'f"{name}_service.asgi:application"' in STACK_SOURCE
    for name in stack.SERVICES:
        command = " ".join(compose["services"][name]["command"]).replace("$$", "$")
        assert "python -m granian --interface asgi" in command
        assert "${OTEL_SERVICE_NAME}_service.asgi:application" in command
        assert compose["services"][name]["environment"]["OTEL_SERVICE_NAME"] == name


def test_local_prometheus_config_matches_the_local_ports():
    assert "prometheus.local.yml" in STACK_SOURCE
    config = yaml.safe_load((PROMETHEUS / "prometheus.local.yml").read_text())
    targets = {t for job in config["scrape_configs"] for group in job["static_configs"] for t in group["targets"]}
    expected = {f"127.0.0.1:{port}" for port in stack.SERVICES.values()} | {"127.0.0.1:8000", "127.0.0.1:9090"}
    assert targets == expected
