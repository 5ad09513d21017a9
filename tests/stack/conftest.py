"""Shared helpers for the stack checks: the compose file and the provisioning.

Docker does not run on our machines: the compose stack is checked statically, and for
real with the pieces that do run here (a real Prometheus scraping a real gateway). The
tools come from ``tests.support.services.require_tool``: under ``CI=true`` a missing
one (promtool, prometheus) fails instead of skipping.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DASHBOARDS = ROOT / "grafana" / "dashboards"
DATASOURCES = ROOT / "grafana" / "provisioning" / "datasources" / "datasources.yaml"
PROMETHEUS = ROOT / "observability" / "prometheus"
#: The Python processes of the stack, all built from ./Dockerfile.
APP_SERVICES = {"gateway", "identity", "orders", "inventory", "inventory-worker",
                "notifications", "notifications-worker"}
#: The only services reachable from the host: the gateway and the UIs.
PUBLISHED = {"gateway", "grafana", "jaeger", "prometheus"}


@pytest.fixture(scope="session")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="session")
def datasources() -> list[dict]:
    return yaml.safe_load(DATASOURCES.read_text())["datasources"]


def all_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows keep theirs inside
    return panels


def load_dashboards() -> dict[str, dict]:
    import json

    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}
