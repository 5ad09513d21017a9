"""Grafana dashboards: static shape, then every PromQL query against a real Prometheus.

The live part starts Debian's ``prometheus`` on a free port, has it scrape a running
gateway (real upstream, a route to a dead upstream behind a circuit breaker, a rate
limited route, an API-key route) and the identity demo service, sends a short load, then sends every dashboard expression (template variables
substituted as Grafana would) to ``/api/v1/query``: each must be accepted, and the
gateway panels listed in ``MUST_HAVE_DATA`` must return series.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import yaml

from demo_services.common.testing import ServiceProcess
from tests.stack.conftest import all_panels, load_dashboards
from tests.support.gateway import GatewayProcess
from tests.support.net import free_port
from tests.support.services import require_tool
from tests.support.upstream import Upstream

DASHBOARDS = load_dashboards()
PROVISIONED_UIDS = {"prometheus", "loki", "jaeger"}
#: DESIGN.md section 6, the gateway's JWKS metrics and the demo services' RED metrics.
CONTRACT = {
    "gateway_requests_total", "gateway_request_duration_seconds", "gateway_upstream_duration_seconds",
    "gateway_upstream_errors_total", "gateway_auth_failures_total", "gateway_ratelimit_decisions_total",
    "gateway_requests_in_flight", "gateway_circuit_state", "gateway_build_info",
    "gateway_jwks_refresh_total", "gateway_jwks_age_seconds",
    "http_server_requests_total", "http_server_request_duration_seconds",
}
SUBSTITUTIONS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m",
                 "$route": ".*", "$upstream": ".*", "$service": ".*"}
MUST_HAVE_DATA = {
    "Request rate by route", "Error ratio (5xx)", "Responses by status code",
    "Latency by route (p50 / p95 / p99, exemplars link to traces)", "In-flight requests",
    "Upstream latency p95 by upstream", "Upstream errors by upstream and kind", "Circuit state",
    "Rate limited (429) by route", "Auth failures by reason", "Build",
}
SERVICE_PANELS_WITH_DATA = {"Request rate by service", "Error ratio (5xx) by service",
                            "Latency p95 by service", "Targets up"}
API_KEY = "stack-test-key"


def prom_targets():
    for file, dashboard in DASHBOARDS.items():
        for panel in all_panels(dashboard):
            for target in panel.get("targets", []):
                if (target.get("datasource") or panel.get("datasource") or {}).get("uid") == "prometheus":
                    yield file, panel["title"], target["refId"], target["expr"]


def substitute(expr: str) -> str:
    for name in sorted(SUBSTITUTIONS, key=len, reverse=True):
        expr = expr.replace(name, SUBSTITUTIONS[name])
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


# ---------------------------------------------------------------- static checks

def test_both_dashboards_exist():
    assert {"gateway-overview.json", "services.json"} <= set(DASHBOARDS)


@pytest.mark.parametrize("file", sorted(DASHBOARDS))
def test_dashboard_shape(file):
    dashboard = DASHBOARDS[file]
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in all_panels(dashboard)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {file}"
    for panel in all_panels(dashboard):
        for source in [panel.get("datasource"), *(t.get("datasource") for t in panel.get("targets", []))]:
            if source is not None:
                assert source["uid"] in PROVISIONED_UIDS, f"{file}/{panel['title']}: {source}"
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"]["uid"] in PROVISIONED_UIDS


def test_promql_uses_contract_names_and_rate_interval():
    seen = set()
    for file, title, _, expr in prom_targets():
        names = set(re.findall(r"\b((?:gateway|http_server)_[a-z_]+)", expr))
        names = {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}
        assert names <= CONTRACT, f"{file}/{title}: {names - CONTRACT}"
        seen |= names
        for window in re.findall(r"(?:rate|increase)\([^\[]*\[([^\]]+)\]", expr):
            assert window == "$__rate_interval", f"{file}/{title}: window {window}"
    assert seen == CONTRACT, f"contract metrics without a panel: {CONTRACT - seen}"


def test_gateway_dashboard_has_route_and_upstream_variables_and_exemplars():
    dashboard = DASHBOARDS["gateway-overview.json"]
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"route", "upstream"}
    latency = [p for p in all_panels(dashboard) if p["title"].startswith("Latency by route")][0]
    assert all(t.get("exemplar") for t in latency["targets"])
    assert {re.search(r"histogram_quantile\(([\d.]+)", t["expr"]).group(1) for t in latency["targets"]} == {"0.5", "0.95", "0.99"}
    logs = [p for p in all_panels(dashboard) if p["type"] == "logs"]
    assert logs and all(t["datasource"]["uid"] == "loki" for p in logs for t in p["targets"])


# ---------------------------------------------------------------- live Prometheus

def _gateway_config(upstream: Upstream) -> dict:
    dead = f"http://127.0.0.1:{free_port()}"
    return {
        "upstreams": {
            "echo": {"targets": [upstream.url], "timeouts": {"connect": 1.0, "read": 2.0}},
            "dead": {"targets": [dead], "timeouts": {"connect": 0.5, "read": 1.0},
                     "circuit_breaker": {"failure_threshold": 3, "open_seconds": 30}},
        },
        "routes": [
            {"name": "echo", "match": {"path_prefix": "/echo"}, "upstream": "echo"},
            {"name": "limited", "match": {"path_prefix": "/limited"}, "upstream": "echo",
             "policies": [{"rate_limit": {"limits": ["5/second"], "key": "ip"}}]},
            {"name": "keyed", "match": {"path_prefix": "/keyed"}, "upstream": "echo",
             "policies": [{"api_key": {}}]},
            {"name": "dead", "match": {"path_prefix": "/dead"}, "upstream": "dead"},
        ],
        "consumers": [{"name": "tester", "api_keys": ["sha256:" + hashlib.sha256(API_KEY.encode()).hexdigest()]}],
    }


def _start_identity(tmp: Path) -> ServiceProcess:
    """The identity demo service under granian, as demo_services/stack.py runs it."""
    env = {"DATABASE_URL": f"sqlite:///{tmp / 'identity.sqlite3'}", "OTEL_SERVICE_NAME": "identity",
           "LOG_FORMAT": "json"}
    return ServiceProcess("identity", env).start(seed=False)


def _stop(proc) -> None:
    import signal

    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _load(gateway_url: str, identity: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=gateway_url, timeout=5) as client:
        while time.monotonic() < deadline:
            for _ in range(5):
                client.get("/echo/items")
            client.post("/echo/items", content=b"{}")
            for _ in range(8):
                client.get("/limited/x")
            client.get("/keyed/x")
            client.get("/keyed/x", headers={"X-API-Key": API_KEY})
            client.get("/dead/x")
            client.get("/nowhere")
            httpx.get(f"{identity}/health", timeout=5)
            httpx.post(f"{identity}/token", data={"grant_type": "password", "username": "nobody",
                                                  "password": "wrong"}, timeout=5)
            time.sleep(0.05)


@pytest.fixture(scope="module")
def prometheus():
    binary = require_tool("prometheus")
    tmp = Path(tempfile.mkdtemp(prefix="stack-prom-"))
    upstream = Upstream("echo").start()
    gateway = GatewayProcess(_gateway_config(upstream)).start()
    identity = None
    prom = None
    try:
        identity = _start_identity(tmp)
        port = free_port()
        scrape = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "scrape_configs": [
            {"job_name": "gateway", "metrics_path": "/-/metrics",
             "static_configs": [{"targets": [f"127.0.0.1:{gateway.port}"], "labels": {"service": "gateway"}}]},
            {"job_name": "services", "metrics_path": "/metrics",
             "static_configs": [{"targets": [f"127.0.0.1:{identity.port}"]}]},
        ]}
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(scrape))
        prom = subprocess.Popen([binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
                                 f"--web.listen-address=127.0.0.1:{port}", "--enable-feature=exemplar-storage"],
                                stdout=subprocess.DEVNULL, stderr=open(tmp / "prometheus.log", "wb"),
                                start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, prom)
        _wait_for_first_scrapes(url, len(scrape["scrape_configs"]))
        _load(gateway.url, identity.url, seconds=6)
        _wait_for_rates(url)
        yield {"url": url, "gateway": gateway}
    finally:
        _stop(prom)
        if identity is not None:
            identity.stop()
        gateway.stop()
        upstream.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_ready(url: str, proc) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, "prometheus exited"
        try:
            if httpx.get(f"{url}/-/ready", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("prometheus not ready")


def _wait_for_first_scrapes(url: str, targets: int) -> None:
    """Prometheus applies new targets on a 5 s tick after it is ready: a load sent before
    the first scrape would land as the series' first sample, and give no rate at all."""
    if not _query_until(url, "up == 1", lambda result: len(result) == targets, timeout=30):
        raise TimeoutError(f"prometheus never scraped all {targets} targets")


def _query_until(url: str, expr: str, done, timeout: float) -> bool:
    """Whether ``expr``'s result satisfied ``done`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done(query(url, expr)["data"]["result"]):
            return True
        time.sleep(0.25)
    return False


def query(url: str, expr: str) -> dict:
    return httpx.post(f"{url}/api/v1/query", data={"query": expr}, timeout=10).json()


def _wait_for_rates(url: str) -> None:
    if _query_until(url, "sum(rate(gateway_requests_total[1m])) > 0", bool, timeout=20):
        return
    targets = httpx.get(f"{url}/api/v1/targets", timeout=5).json()
    pytest.fail(f"no gateway_requests_total rate after the load (gateway /-/metrics not implemented?): {targets}")


def test_gateway_target_is_up(prometheus):
    result = query(prometheus["url"], 'up{job="gateway"}')["data"]["result"]
    assert result and result[0]["value"][1] == "1", result


def test_every_promql_expression_is_accepted(prometheus):
    problems = []
    for file, title, ref, expr in prom_targets():
        answer = query(prometheus["url"], substitute(expr))
        if answer.get("status") != "success":
            problems.append(f"{file}/{title}/{ref}: {answer.get('error')}")
    for dashboard in DASHBOARDS.values():
        for variable in dashboard["templating"]["list"]:
            metric, label = re.match(r"label_values\((\w+),\s*(\w+)\)", variable["query"]["query"]).groups()
            response = httpx.get(f"{prometheus['url']}/api/v1/label/{label}/values",
                                 params={"match[]": metric}, timeout=5).json()
            if response.get("status") != "success" or not response["data"]:
                problems.append(f"variable {variable['name']}: {response}")
    assert not problems, "\n".join(problems)


def test_gateway_panels_return_data(prometheus):
    titles = {title for file, title, _, _ in prom_targets() if file == "gateway-overview.json"}
    assert MUST_HAVE_DATA <= titles
    # A panel with several queries (p50/p95/p99, limited/backend_error) needs data from one.
    empty = {title for title in MUST_HAVE_DATA if not _any_query_has_data(prometheus["url"], title)}
    assert not empty, f"gateway panels without data: {sorted(empty)}"


def test_the_dead_upstream_shows_as_connect_errors_and_an_open_circuit(prometheus):
    errors = query(prometheus["url"], 'sum by (kind) (gateway_upstream_errors_total{upstream="dead"})')
    assert {r["metric"]["kind"] for r in errors["data"]["result"]} & {"connect", "circuit_open"}
    state = query(prometheus["url"], 'max(gateway_circuit_state{upstream="dead"})')["data"]["result"]
    assert state and float(state[0]["value"][1]) >= 1, state


def _any_query_has_data(url: str, title: str) -> bool:
    return any(query(url, substitute(expr))["data"]["result"]
               for file, t, _, expr in prom_targets() if t == title)


def test_service_panels_return_data(prometheus):
    for title in SERVICE_PANELS_WITH_DATA:
        assert _any_query_has_data(prometheus["url"], title), title
