"""docker-compose.yml: valid against the compose spec, self-consistent, pinned, healthy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.stack.conftest import APP_SERVICES, COMPOSE, PUBLISHED, ROOT

HOST_PATHS = {"/var/run/docker.sock"}  # host runtime paths a bind mount may use


def test_validates_against_the_compose_spec():
    tool = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run([str(tool), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _bind_sources(service: dict) -> list[str]:
    sources = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                sources.append(volume["source"])
        elif volume.split(":")[0].startswith((".", "/", "~")):
            sources.append(volume.split(":")[0])
    return sources


def test_every_bind_mounted_file_exists(compose):
    checked = 0
    for name, service in compose["services"].items():
        for source in _bind_sources(service):
            if source in HOST_PATHS:
                continue
            assert not source.startswith(("/", "~")), f"{name}: host-specific bind mount {source}"
            assert (ROOT / source).exists(), f"{name}: bind mount {source} does not exist"
            checked += 1
    assert checked >= 5


def test_every_build_context_and_dockerfile_exists(compose):
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is None:
            continue
        context = ROOT / build["context"]
        assert context.is_dir(), f"{name}: build context {build['context']}"
        assert (context / build.get("dockerfile", "Dockerfile")).is_file(), f"{name}: dockerfile"


def _pinned(image: str) -> bool:
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest") and re.search(r"\d", tag)


def test_every_image_is_pinned(compose):
    images = []
    for service in compose["services"].values():
        if "image" in service:
            images.append(service["image"])
        images.extend((service.get("build") or {}).get("args", {}).values())
    for dockerfile in (*ROOT.glob("Dockerfile"), *ROOT.glob("docker/*.Dockerfile")):
        for line in dockerfile.read_text().splitlines():
            match = re.match(r"FROM\s+(\S+)", line)
            if match and "$" not in match.group(1):
                images.append(match.group(1))
    assert images
    unpinned = [image for image in images if not _pinned(image)]
    assert not unpinned, f"unpinned images: {unpinned}"


@pytest.mark.parametrize("service, image", [
    ("jaeger", "jaegertracing/jaeger:2.19.0"),
    ("loki", "grafana/loki:3.7."),
    ("alloy", "grafana/alloy:v1.18."),
])
def test_upstream_versions_of_probe_built_images(compose, service, image):
    assert compose["services"][service]["build"]["args"]["BASE"].startswith(image)


def test_prometheus_and_grafana_versions(compose):
    prometheus = compose["services"]["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:v3.13.")
    assert "--enable-feature=exemplar-storage" in prometheus["command"]
    assert compose["services"]["grafana"]["image"] == "grafana/grafana:13.1.0"


def test_every_service_has_a_healthcheck(compose):
    for name, service in compose["services"].items():
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name}: no healthcheck"
        test = check["test"]
        if "/usr/local/bin/probe" in test:  # only images built with the busybox probe have it
            assert service["build"]["dockerfile"] == "probe.Dockerfile", name


def test_depends_on_waits_for_healthy_services(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert spec == {"condition": "service_healthy"}, f"{name} -> {dependency}: {spec}"
    assert set(services["gateway"]["depends_on"]) >= {"identity", "orders", "inventory", "notifications"}


def test_only_the_gateway_and_the_uis_publish_ports(compose):
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == PUBLISHED
    assert compose["services"]["gateway"]["ports"] == ["8000:8000"]


def test_everything_is_on_the_internal_network(compose):
    networks = compose["networks"]
    for name, service in compose["services"].items():
        assert service.get("networks") == ["backend"], name
    assert not networks["backend"].get("external")


def _env(service: dict) -> dict:
    return {key: str(value) for key, value in service.get("environment", {}).items()}


def test_python_services_share_one_image_and_the_settings_of_design_section_11(compose):
    services = compose["services"]
    assert APP_SERVICES <= set(services)
    for name in APP_SERVICES:
        service, env = services[name], _env(services[name])
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
        assert env["LOG_FORMAT"] == "json", name
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318", name
        assert env["CELERY_BROKER_URL"].startswith("amqp://") and "@rabbitmq:5672" in env["CELERY_BROKER_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379"), name
        assert env["OTEL_SERVICE_NAME"], name
        for upstream in ("identity", "orders", "inventory", "notifications"):
            assert env[f"{upstream.upper()}_URL"] == f"http://{upstream}:8000"


def test_one_database_and_one_role_per_service(compose):
    services = compose["services"]
    script = (ROOT / "docker/postgres/init-databases.sh").read_text()
    databases = {}
    for name in APP_SERVICES - {"gateway"}:
        url = urlsplit(_env(services[name])["DATABASE_URL"])
        assert url.scheme == "postgres" and url.hostname == "postgres"
        database = url.path.lstrip("/")
        assert url.username == database == _env(services[name])["OTEL_SERVICE_NAME"], name
        assert url.password == f"{database}-password"
        databases.setdefault(database, set()).add(name)
    assert set(databases) == {"identity", "orders", "inventory", "notifications"}
    match = re.search(r"for name in ([a-z ]+); do", script)
    assert match and set(match.group(1).split()) == set(databases)
    assert "CREATE DATABASE $name OWNER $name" in script and "REVOKE CONNECT" in script
    assert "DATABASE_URL" not in _env(services["gateway"])


def test_workers_consume_their_own_queues(compose):
    for worker in ("inventory-worker", "notifications-worker"):
        service = compose["services"][worker]
        owner = worker.removesuffix("-worker")
        assert service["working_dir"] == f"/app/demo_services/{owner}"
        assert _env(service)["OTEL_SERVICE_NAME"] == owner  # -A <owner>_service -Q <owner>
        command = " ".join(service["command"]).replace("$$", "$")
        assert "celery -A ${OTEL_SERVICE_NAME}_service worker -Q ${OTEL_SERVICE_NAME}" in command
        assert compose["services"][worker]["depends_on"][owner] == {"condition": "service_healthy"}


def test_demo_services_run_the_production_asgi_server_of_their_project(compose):
    for name in ("identity", "orders", "inventory", "notifications"):
        service = compose["services"][name]
        command = " ".join(service["command"])
        assert "python -m granian --interface asgi" in command
        assert "${OTEL_SERVICE_NAME}_service.asgi:application" in command.replace("$$", "$")
        assert service["working_dir"] == f"/app/demo_services/{name}"
    gateway = compose["services"]["gateway"]["command"]
    assert gateway[:3] == ["python", "-m", "gateway"] and "serve" in gateway
    assert (ROOT / gateway[gateway.index("--config") + 1]).is_file()


def test_dockerfile_runs_as_non_root_with_a_cached_dependency_layer():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:[\d.]+-slim", text, re.M)
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert text.index("COPY pyproject.toml") < text.index("COPY gateway")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv"} <= set(ignored)
