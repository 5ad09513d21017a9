"""/-/metrics: valid exposition in both formats, exact across workers, bounded, guarded."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from tests.observability.conftest import API_KEY, gateway_config
from tests.support.gateway import GatewayProcess
from tests.support.services import require_tool

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def _promtool() -> str:
    return require_tool("promtool")


def _metrics(gateway: GatewayProcess, accept: str = "") -> httpx.Response:
    response = httpx.get(f"{gateway.url}/-/metrics", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    return response


def _settled_metrics(gateway: GatewayProcess) -> str:
    """The exposition once every worker has recorded its finished requests: a worker
    records them together every 20 ms (``GATEWAY_RECORD_INTERVAL_MS``) and at a scrape it
    answers, so another worker's last ones can be missing for that long. Scraped until two
    scrapes 0.1 s apart agree on the request series."""
    def requests(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith(("gateway_request", "gateway_upstream"))]

    deadline = time.monotonic() + 5
    text = _metrics(gateway).text
    while True:
        time.sleep(0.1)
        again = _metrics(gateway).text
        if requests(again) == requests(text) or time.monotonic() > deadline:
            return again
        text = again


def _value(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def _series(text: str) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


@pytest.mark.parametrize("accept", ["", OPENMETRICS])
def test_promtool_accepts_the_exposition(multi_gateway, accept):
    httpx.get(f"{multi_gateway.url}/api/echo/a")
    httpx.get(f"{multi_gateway.url}/keyed/a")
    response = _metrics(multi_gateway, accept)
    if accept:
        assert response.headers["content-type"].startswith("application/openmetrics-text")
        assert response.text.rstrip().endswith("# EOF")
    checked = subprocess.run([_promtool(), "check", "metrics"], input=response.content, capture_output=True)
    problems = [p for p in checked.stderr.decode().splitlines() if not (accept and _om_counter_help(p))]
    assert checked.returncode in (0, 3) and not problems, checked.stderr.decode() + checked.stdout.decode()
    families = {f.name for f in text_string_to_metric_families(response.text)} if accept else set()
    assert 'gateway_build_info{' in response.text and (not accept or "gateway_requests" in families)


def _om_counter_help(problem: str) -> bool:
    """promtool (2.42) lints with the Prometheus text parser: an OpenMetrics counter's HELP
    names the family without ``_total``, which that parser reports as "no help text"."""
    return problem.endswith("_total no help text")


def test_openmetrics_carries_trace_id_exemplars_with_one_worker(traced_gateway):
    response = httpx.get(f"{traced_gateway.url}/api/echo/exemplar")
    trace_id = response.headers["traceresponse"].split("-")[1]
    text = _metrics(traced_gateway, OPENMETRICS).text
    exemplars = [line for line in text.splitlines()
                 if line.startswith("gateway_request_duration_seconds_bucket") and "# {" in line]
    assert any(f'trace_id="{trace_id}"' in line for line in exemplars), exemplars


def test_totals_are_exact_across_workers(upstream):
    with GatewayProcess(gateway_config(upstream.url), workers=2) as gateway, httpx.Client() as client:
        for _ in range(3):  # new connections spread over both workers
            for i in range(40):
                assert httpx.get(f"{gateway.url}/api/echo/{i}").status_code == 200
        for _ in range(30):
            client.get(f"{gateway.url}/keyed/x")
        for _ in range(10):  # a method outside the HTTP set is counted as OTHER
            client.request("PURGE", f"{gateway.url}/api/echo/cache")
        text = _settled_metrics(gateway)
    assert _value(text, 'gateway_requests_total{method="GET",route="echo",status_code="200"}') == 120
    assert _value(text, 'gateway_requests_total{method="GET",route="keyed",status_code="401"}') == 30
    assert _value(text, 'gateway_auth_failures_total{policy="api_key",reason="missing_api_key",route="keyed"}') == 30
    assert _value(text, 'gateway_request_duration_seconds_count{method="GET",route="echo"}') == 120
    assert _value(text, 'gateway_requests_total{method="OTHER",route="echo"') == 10
    assert _value(text, 'gateway_request_duration_seconds_count{method="OTHER",route="echo"}') == 10
    # the upstream answered the echo route's 130 requests; the keyed ones never reached it
    assert _value(text, 'gateway_upstream_duration_seconds_count{route="echo",upstream="a"}') == 130
    assert _value(text, 'gateway_upstream_duration_seconds_count{route="keyed"') == 0
    assert _value(text, "gateway_requests_in_flight") == 0


def test_requests_in_flight_counts_a_request_until_it_is_answered(multi_gateway):
    with ThreadPoolExecutor(2) as pool:
        slow = [pool.submit(httpx.get, f"{multi_gateway.url}/keyed/slow?seconds=1.5",
                            headers={"X-API-Key": API_KEY}, timeout=10) for _ in range(2)]
        deadline = time.monotonic() + 1.2
        while _value(_metrics(multi_gateway).text, "gateway_requests_in_flight") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        during = _value(_metrics(multi_gateway).text, "gateway_requests_in_flight")
        assert [future.result().status_code for future in slow] == [200, 200]
    assert during == 2
    assert _value(_settled_metrics(multi_gateway), "gateway_requests_in_flight") == 0


def test_distinct_paths_add_no_series(multi_gateway):
    with httpx.Client() as client:
        client.get(f"{multi_gateway.url}/api/echo/warm")
        client.get(f"{multi_gateway.url}/nowhere/warm")
        before = _series(_settled_metrics(multi_gateway))
        for i in range(1000):
            client.get(f"{multi_gateway.url}/api/echo/item-{i}")
            if i % 10 == 0:
                client.get(f"{multi_gateway.url}/nowhere/{i}")
        after = _settled_metrics(multi_gateway)
    assert _series(after) == before
    assert "item-" not in after and "/nowhere" not in after


def test_upstream_errors_are_counted(multi_gateway):
    assert httpx.get(f"{multi_gateway.url}/down/x").status_code in (502, 503)
    text = _metrics(multi_gateway).text
    assert _value(text, 'gateway_upstream_errors_total{kind="connect",upstream="down"}') >= 1


def test_metrics_are_refused_outside_the_allowlist_without_the_token(upstream):
    config = gateway_config(upstream.url)
    config["gateway"] = {"admin": {"allow_networks": ["192.0.2.0/24"], "token": "admin-secret-token"}}
    with GatewayProcess(config) as gateway:
        assert httpx.get(f"{gateway.url}/-/metrics").status_code == 403
        wrong = httpx.get(f"{gateway.url}/-/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        ok = httpx.get(f"{gateway.url}/-/metrics", headers={"Authorization": "Bearer admin-secret-token"})
        assert ok.status_code == 200 and "gateway_requests_total" in ok.text
