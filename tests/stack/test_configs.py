"""Prometheus, Loki, Alloy and Grafana provisioning: each parsed by its own tool where one
exists here, and checked against the compose file it runs in."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.stack.conftest import DATASOURCES, PROMETHEUS, ROOT
from tests.support.services import require_tool

LOKI = ROOT / "observability" / "loki" / "loki.yaml"
ALLOY = ROOT / "observability" / "alloy" / "config.alloy"
SERVICE_PORTS = {"identity": 8001, "orders": 8002, "inventory": 8003, "notifications": 8004}


@pytest.mark.parametrize("name", ["prometheus.yml", "prometheus.local.yml"])
def test_promtool_accepts_the_scrape_config(name):
    promtool = require_tool("promtool")
    result = subprocess.run([promtool, "check", "config", str(PROMETHEUS / name)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def _jobs(name: str) -> dict[str, dict]:
    config = yaml.safe_load((PROMETHEUS / name).read_text())
    return {job["job_name"]: job for job in config["scrape_configs"]}


def _targets(job: dict) -> list[str]:
    return [t for group in job["static_configs"] for t in group["targets"]]


def test_compose_prometheus_scrapes_the_gateway_and_every_service(compose):
    jobs = _jobs("prometheus.yml")
    assert jobs["gateway"]["metrics_path"] == "/-/metrics"
    assert _targets(jobs["gateway"]) == ["gateway:8000"]
    assert jobs["services"]["metrics_path"] == "/metrics"
    assert sorted(_targets(jobs["services"])) == sorted(f"{s}:8000" for s in SERVICE_PORTS)
    for target in _targets(jobs["gateway"]) + _targets(jobs["services"]):
        assert target.split(":")[0] in compose["services"]


def test_local_prometheus_scrapes_the_same_jobs_on_the_local_ports():
    compose_jobs, local_jobs = _jobs("prometheus.yml"), _jobs("prometheus.local.yml")
    assert set(compose_jobs) == set(local_jobs)
    for name, job in compose_jobs.items():
        assert job.get("metrics_path") == local_jobs[name].get("metrics_path"), name
    assert _targets(local_jobs["gateway"]) == ["127.0.0.1:8000"]
    assert sorted(_targets(local_jobs["services"])) == sorted(f"127.0.0.1:{p}" for p in SERVICE_PORTS.values())


def test_loki_config_keeps_structured_metadata_on_a_v13_tsdb_schema(compose):
    config = yaml.safe_load(LOKI.read_text())
    assert config["auth_enabled"] is False
    assert config["server"]["http_listen_port"] == 3100
    assert config["limits_config"]["allow_structured_metadata"] is True
    schema = config["schema_config"]["configs"][-1]
    assert (schema["store"], schema["schema"]) == ("tsdb", "v13")
    mounted = [v for v in compose["services"]["loki"]["volumes"] if v.startswith("./observability/loki/")]
    target = mounted[0].split(":")[1]
    assert f"-config.file={target}" in compose["services"]["loki"]["command"]


def _strip_alloy(text: str) -> str:
    """The config without comments and string contents (so braces inside strings don't count)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def test_alloy_config_is_balanced_and_references_only_declared_components():
    text = ALLOY.read_text()
    bare = _strip_alloy(text)
    for open_, close in ("{}", "[]", "()"):
        depth = 0
        for char in bare:
            depth += (char == open_) - (char == close)
            assert depth >= 0, f"unbalanced {close}"
        assert depth == 0, f"unbalanced {open_}"
    uncommented = re.sub(r"//[^\n]*", "", text)
    blocks = re.findall(r'^([a-z_]+(?:\.[a-z_]+)+)\s+"([\w-]+)"\s*\{', uncommented, re.M)
    declared = {f"{kind}.{label}" for kind, label in blocks}
    assert {"discovery.docker.containers", "loki.source.docker.containers", "loki.process.json",
            "loki.write.loki"} <= declared
    references = re.findall(r"=\s*\[?\s*((?:discovery|loki)\.[a-z_.]+)\.(receiver|output|targets)\b", bare)
    assert references
    for component, _ in references:
        assert component in declared, f"{component} is referenced but not declared"


def test_alloy_ships_json_logs_with_bounded_labels_and_trace_ids_as_metadata():
    text = ALLOY.read_text()
    assert 'url = "http://loki:3100/loki/api/v1/push"' in text
    assert 'host             = "unix:///var/run/docker.sock"' in text
    keep = re.search(r"stage\.label_keep\s*\{\s*values\s*=\s*\[([^\]]*)\]", text)
    assert keep and set(re.findall(r'"(\w+)"', keep.group(1))) == {"service", "level"}
    metadata = re.search(r"stage\.structured_metadata\s*\{(.*?)\n  \}", text, re.S).group(1)
    assert {"trace_id", "span_id", "request_id"} <= set(re.findall(r"(\w+)\s*=", metadata))


def test_alloy_config_with_the_real_tool_when_installed():
    import shutil

    alloy = shutil.which("alloy")
    if not alloy:
        pytest.skip("alloy is not installed here (no Debian package); the syntax checks above stand in")
    result = subprocess.run([alloy, "fmt", str(ALLOY)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_grafana_datasources_have_fixed_uids_and_link_to_each_other(datasources, compose):
    by_uid = {ds["uid"]: ds for ds in datasources}
    assert set(by_uid) == {"prometheus", "loki", "jaeger"}
    exemplars = by_uid["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert exemplars == [{"name": "trace_id", "datasourceUid": "jaeger"}]
    derived = by_uid["loki"]["jsonData"]["derivedFields"][0]
    assert (derived["matcherType"], derived["matcherRegex"], derived["datasourceUid"]) == ("label", "trace_id", "jaeger")
    assert derived["url"] == "$${__value.raw}"  # `$$`: not an env var for Grafana's provisioning
    logs = by_uid["jaeger"]["jsonData"]["tracesToLogsV2"]
    assert logs["datasourceUid"] == "loki" and logs["filterByTraceID"] is True
    for ds in datasources:
        host, port = re.match(r"http://([\w-]+):(\d+)$", ds["url"]).groups()
        assert host in compose["services"], ds["name"]


def test_grafana_mounts_the_provisioning_and_the_dashboards(compose):
    volumes = compose["services"]["grafana"]["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    provider = yaml.safe_load((DATASOURCES.parents[1] / "dashboards" / "dashboards.yaml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert f"./grafana/dashboards:{path}:ro" in volumes
    home = compose["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "grafana" / "dashboards" / home.removeprefix(path + "/")).is_file()
