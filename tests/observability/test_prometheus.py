"""A real Prometheus scrapes a two-worker gateway; the dashboards' PromQL gives the truth."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.observability.conftest import gateway_config
from tests.support.gateway import GatewayProcess
from tests.support.net import free_port
from tests.support.services import require_tool

CONFIG = """global: {{scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}}
scrape_configs:
  - job_name: gateway
    metrics_path: /-/metrics
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
"""


@pytest.fixture
def prometheus_binary() -> str:
    return require_tool("prometheus")


class Prometheus:
    def __init__(self, binary: str, target_port: int) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="prom-test-")
        config = Path(self.dir.name) / "prometheus.yml"
        config.write_text(CONFIG.format(port=target_port))
        self.url = f"http://127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={self.dir.name}/data",
             f"--web.listen-address={self.url[7:]}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def query(self, promql: str) -> list[dict]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def scalar(self, promql: str) -> float:
        (sample,) = self.query(promql)
        return float(sample["value"][1])

    def wait_until(self, promql: str, predicate, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        result: list[dict] = []
        while time.monotonic() < deadline:
            try:
                result = self.query(promql)
                if predicate(result):
                    return result
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"{promql} never satisfied: {result}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.dir.cleanup()


def _load(gateway: GatewayProcess, ok: int, failing: int) -> None:
    for i in range(max(ok, failing)):  # a fresh connection each time spreads over workers
        if i < ok:
            assert httpx.get(f"{gateway.url}/api/echo/{i}").status_code == 200
        if i < failing:
            assert httpx.get(f"{gateway.url}/down/{i}").status_code >= 500


def test_promql_of_the_dashboards(upstream, prometheus_binary):
    with GatewayProcess(gateway_config(upstream.url), workers=2) as gateway:
        _load(gateway, 1, 1)  # series exist before the first scrape
        prometheus = Prometheus(prometheus_binary, gateway.port)
        try:
            prometheus.wait_until('up{job="gateway"}', lambda r: r and r[0]["value"][1] == "1")
            _load(gateway, 150, 50)
            total = 'sum(gateway_requests_total{job="gateway"})'
            prometheus.wait_until(total, lambda r: r and float(r[0]["value"][1]) == 202)
            time.sleep(1.5)  # one more scrape so rate() sees the last increase
            rates = prometheus.query('sum by (route) (rate(gateway_requests_total[1m]))')
            assert {r["metric"]["route"] for r in rates} == {"echo", "down"}
            assert all(float(r["value"][1]) > 0 for r in rates)
            errors = prometheus.scalar('sum(gateway_requests_total{status_code=~"5.."}) / sum(gateway_requests_total)')
            assert errors == pytest.approx(51 / 202)
            rate_ratio = prometheus.scalar(
                'sum(rate(gateway_requests_total{status_code=~"5.."}[1m])) / sum(rate(gateway_requests_total[1m]))')
            assert 0.1 < rate_ratio < 0.5
            p95 = prometheus.scalar('histogram_quantile(0.95, sum by (le) '
                                    '(rate(gateway_request_duration_seconds_bucket{route="echo"}[1m])))')
            assert 0 < p95 <= 0.5
            assert prometheus.scalar("sum(gateway_upstream_errors_total)") == 51
        finally:
            prometheus.stop()
