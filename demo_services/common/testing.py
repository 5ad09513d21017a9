"""Test helpers: a demo service (or its Celery worker) as a real process, a throwaway database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
ADMIN_URL = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """``manage.py migrate`` + ``seed_demo``, then granian serving ``<name>_service.asgi``."""

    def __init__(self, name: str, env: dict[str, str], workers: int = 1) -> None:
        self.name, self.workers, self.port = name, workers, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cwd = ROOT / "demo_services" / name
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        self.env = {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1",
                    "OTEL_SDK_DISABLED": "true",
                    "DJANGO_SETTINGS_MODULE": f"{name}_service.settings",
                    **env}
        self._dir = tempfile.TemporaryDirectory(prefix=f"{name}-")
        self.log_path = Path(self._dir.name) / f"{name}.log"
        self.procs: list[subprocess.Popen[bytes]] = []

    def manage(self, *args: str) -> None:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stderr

    def start(self, seed: bool = True) -> ServiceProcess:
        self.manage("migrate", "--noinput")
        if seed:
            self.manage("seed_demo")
        self._spawn([sys.executable, "-m", "granian", "--interface", "asginl",
                     "--host", "127.0.0.1",
                     "--port", str(self.port), "--workers", str(self.workers), "--no-ws",
                     "--log-level", "warning", f"{self.name}_service.asgi:application"])
        self._wait_ready()
        return self

    def start_worker(self, queue: str) -> None:
        self._spawn([sys.executable, "-m", "celery", "-A", f"{self.name}_service", "worker",
                     "-Q", queue, "-n", f"{self.name}-{uuid.uuid4().hex[:6]}@%h",
                     "--concurrency", "1", "--pool", "solo", "--loglevel", "INFO",
                     "--without-gossip", "--without-mingle", "--without-heartbeat"])

    def _spawn(self, cmd: list[str]) -> None:
        log = open(self.log_path, "ab")
        self.procs.append(subprocess.Popen(cmd, cwd=self.cwd, env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True))

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.procs[-1].poll() is None, f"{self.name} exited:\n{self.logs()}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready:\n{self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self._dir.cleanup()


def postgres_available() -> bool:
    import psycopg

    try:
        psycopg.connect(ADMIN_URL, connect_timeout=2).close()
    except psycopg.Error:
        return False
    return True


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh database, dropped afterwards; yields its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


SERVICES = ("identity", "inventory", "orders", "notifications")


def start_services(env: dict[str, str], workdir: Path, procs: dict[str, ServiceProcess]) -> dict[str, str]:
    """Every demo service on its own SQLite database under ``workdir`` (orders pointed at
    inventory). ``procs`` fills as they start, so the caller stops whatever did; returns
    the ``<NAME>_URL`` variables the gateway's demo config reads."""
    for name in SERVICES:
        db = {"DATABASE_URL": f"sqlite:///{workdir / f'{name}.sqlite3'}"}
        extra = {"INVENTORY_URL": procs["inventory"].url} if name == "orders" else {}
        procs[name] = ServiceProcess(name, {**env, **db, **extra}).start()
    return {f"{n.upper()}_URL": p.url for n, p in procs.items()}


def gateway_client(scopes: str, user: str = "alice"):
    """A DRF test client whose requests carry the identity headers the gateway sets."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_X_USER_ID=user, HTTP_X_SCOPES=scopes)
    return client
