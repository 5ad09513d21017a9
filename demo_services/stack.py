"""The local demo stack, the same processes as docker-compose.yml minus the containers.

``python -m demo_services.stack`` (what ``make run`` runs): migrates and seeds each
demo service's own database (SQLite by default, ``<NAME>_DATABASE_URL`` to override),
starts identity, orders, inventory and notifications, their Celery workers on a broker
that needs no server (kombu's filesystem transport, unless ``CELERY_BROKER_URL`` is
set), the gateway in front of them and, when installed, Prometheus with the local
scrape config. Output is prefixed per process; Ctrl-C (or SIGTERM) stops everything.
Ports default to DESIGN.md section 10 and can be moved with ``<NAME>_PORT``.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = Path(os.environ.get("STACK_RUN_DIR", ROOT / ".run"))
SERVICES = {"identity": 8001, "orders": 8002, "inventory": 8003, "notifications": 8004}
WORKERS = {"notifications": "notifications", "inventory": "inventory"}


@dataclass
class Spec:
    name: str
    cmd: list[str]
    cwd: Path = ROOT
    env: dict[str, str] = field(default_factory=dict)


def port(name: str, default: int) -> int:
    return int(os.environ.get(f"{name.upper()}_PORT", default))


def base_env() -> dict[str, str]:
    broker_dir = RUN / "broker"
    for sub in ("in", "processed"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    urls = {f"{n.upper()}_URL": f"http://127.0.0.1:{port(n, p)}" for n, p in SERVICES.items()}
    return {
        **os.environ,
        **urls,
        "PYTHONUNBUFFERED": "1",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "filesystem://"),
        "CELERY_FS_DIR": os.environ.get("CELERY_FS_DIR", str(broker_dir)),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }


def service_env(name: str) -> dict[str, str]:
    url = os.environ.get(f"{name.upper()}_DATABASE_URL")
    return {"DATABASE_URL": url} if url else {"DATABASE_URL": f"sqlite:///{RUN / f'{name}.sqlite3'}"}


def prepare(name: str, env: dict[str, str]) -> None:
    cwd = ROOT / "demo_services" / name
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=cwd, env=env, check=True,
                       stdout=subprocess.DEVNULL)


def specs(env: dict[str, str]) -> list[Spec]:
    result = []
    for name, default_port in SERVICES.items():
        cwd = ROOT / "demo_services" / name
        if not (cwd / "manage.py").exists():
            continue
        senv = {**env, **service_env(name), "OTEL_SERVICE_NAME": name}
        prepare(name, senv)
        result.append(Spec(name, [sys.executable, "-m", "granian", "--interface", "asginl", "--host", "127.0.0.1",
                                  "--port", str(port(name, default_port)), "--loop", "uvloop", "--no-ws",
                                  "--log-level", "warning", f"{name}_service.asgi:application"], cwd, senv))
        if name in WORKERS:
            result.append(Spec(f"{name}-worker", [sys.executable, "-m", "celery", "-A", f"{name}_service", "worker",
                                                  "-Q", WORKERS[name], "-n", f"{name}@%h", "--concurrency", "1", "--loglevel", "INFO"],
                               cwd, senv))
    config = os.environ.get("GATEWAY_CONFIG", str(ROOT / "gateway" / "demo" / "gateway.yaml"))
    result.append(Spec("gateway", [sys.executable, "-m", "gateway", "serve", "--config", config, "--host",
                                   os.environ.get("GATEWAY_HOST", "127.0.0.1"), "--port", str(port("gateway", 8000)),
                                   "--workers", os.environ.get("GATEWAY_WORKERS", "1")], ROOT, {**env, "OTEL_SERVICE_NAME": "gateway"}))
    prometheus = shutil.which("prometheus")
    if prometheus and os.environ.get("STACK_PROMETHEUS", "1") == "1":
        result.append(Spec("prometheus", [prometheus, f"--config.file={prometheus_config()}",
                                          f"--storage.tsdb.path={RUN / 'prometheus'}",
                                          "--enable-feature=exemplar-storage",
                                          f"--web.listen-address=127.0.0.1:{port('prometheus', 9090)}"], ROOT, env))
    return result


def prometheus_config() -> Path:
    """observability/prometheus/prometheus.local.yml with the ports this stack really uses."""
    text = (ROOT / "observability" / "prometheus" / "prometheus.local.yml").read_text()
    defaults = {**SERVICES, "gateway": 8000, "prometheus": 9090}
    for name, default in defaults.items():
        text = text.replace(f'"127.0.0.1:{default}"', f'"127.0.0.1:{port(name, default)}"')
    path = RUN / "prometheus.yml"
    path.write_text(text)
    return path


def main() -> int:
    RUN.mkdir(parents=True, exist_ok=True)
    env = base_env()
    processes = {s.name: subprocess.Popen(s.cmd, cwd=s.cwd, env={**env, **s.env}, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, start_new_session=True)
                 for s in specs(env)}
    print(f"stack: {', '.join(processes)} starting; gateway on http://127.0.0.1:{port('gateway', 8000)}", flush=True)
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        _pump(processes, lambda: stopping)
    finally:
        _terminate(processes)
    return 0


def _pump(processes: dict[str, subprocess.Popen], stopping) -> None:
    selector = selectors.DefaultSelector()
    for name, proc in processes.items():
        os.set_blocking(proc.stdout.fileno(), False)
        selector.register(proc.stdout, selectors.EVENT_READ, name)
    width = max(map(len, processes))
    while not stopping():
        for key, _ in selector.select(timeout=0.5):
            data = key.fileobj.read()
            if data:
                for line in data.decode(errors="replace").splitlines():
                    print(f"{key.data:>{width}} | {line}", flush=True)
        for name, proc in processes.items():
            if proc.poll() is not None and name != "prometheus":
                print(f"stack: {name} exited with {proc.returncode}; stopping", flush=True)
                return


def _terminate(processes: dict[str, subprocess.Popen]) -> None:
    for proc in processes.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in processes.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    raise SystemExit(main())
