"""Metrics and access lines recorded together every ``GATEWAY_RECORD_INTERVAL_MS``: a
scrape counts the requests answered just before it, shutdown records the last ones, and a
bad value stops the start with the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.observability.conftest import gateway_config
from tests.support.gateway import ROOT, GatewayProcess

HELD = {"GATEWAY_RECORD_INTERVAL_MS": "60000"}  # nothing is recorded by the timer during a test


def _access_ids(gateway: GatewayProcess, prefix: str) -> list[str]:
    lines = [json.loads(raw) for raw in gateway.logs().splitlines() if raw.startswith("{")]
    return sorted(x["request_id"] for x in lines if x.get("event") == "access" and x["request_id"].startswith(prefix))


def _send(gateway: GatewayProcess, prefix: str, count: int) -> None:
    for index in range(count):
        response = httpx.get(f"{gateway.url}/api/echo/{index}", headers={"X-Request-ID": f"{prefix}-{index}"})
        assert response.status_code == 200


def test_a_scrape_counts_the_requests_answered_just_before_it(upstream):
    with GatewayProcess(gateway_config(upstream.url), env=HELD) as gateway:
        _send(gateway, "scraped", 3)
        time.sleep(0.3)
        assert _access_ids(gateway, "scraped") == []  # still waiting for the interval's end
        text = httpx.get(f"{gateway.url}/-/metrics").text
        counted = [line for line in text.splitlines()
                   if line.startswith('gateway_requests_total{method="GET",route="echo",status_code="200"}')]
        assert counted and float(counted[0].rsplit(" ", 1)[1]) == 3
        deadline = time.monotonic() + 3
        while _access_ids(gateway, "scraped") != ["scraped-0", "scraped-1", "scraped-2"]:
            assert time.monotonic() < deadline, gateway.logs()[-2000:]  # recorded with the scrape
            time.sleep(0.05)


@pytest.mark.parametrize(("server", "workers"), [("uvicorn", 1), ("uvicorn", 2), ("granian", 1)])
def test_the_last_requests_are_recorded_at_shutdown(upstream, server, workers):
    gateway = GatewayProcess(gateway_config(upstream.url), env=HELD, server=server, workers=workers).start()
    try:
        _send(gateway, "last", 4)
    finally:
        gateway.stop()
    assert gateway.proc.returncode == 0
    assert _access_ids(gateway, "last") == ["last-0", "last-1", "last-2", "last-3"]


def test_a_bad_record_interval_stops_the_start_with_the_reason():
    config = ROOT / "gateway" / "demo" / "gateway.yaml"
    run = subprocess.run([sys.executable, "-m", "gateway", "serve", "--config", str(config), "--port", "1"],
                         cwd=ROOT, env={**os.environ, "GATEWAY_RECORD_INTERVAL_MS": "soon"},
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 2
    assert "GATEWAY_RECORD_INTERVAL_MS='soon'" in run.stderr and "milliseconds" in run.stderr
    assert "Traceback" not in run.stderr
