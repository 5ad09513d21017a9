"""Processes the benchmark starts: nginx (origin and proxy), Django baselines, gateway."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.baselines.urls import BODY
from gateway import listen_socket

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    def __init__(self, name: str, cmd: list[str], url: str, env: dict | None = None,
                 cpus: str | None = None, listeners: int = 1, cwd: Path | None = None) -> None:
        if cpus and shutil.which("taskset"):
            cmd = ["taskset", "-c", cpus, *cmd]
        self.name, self.url, self.listeners = name, url, listeners
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd, cwd=cwd or ROOT, env={**os.environ, **(env or {})},
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, path: str = "/", timeout: float = 30) -> Process:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                httpx.get(self.url + path, timeout=1)
                if self.listeners == 1 or listen_socket.listeners(int(self.url.rsplit(":", 1)[1])) >= self.listeners:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


class Existing:
    """A server that is already running (the origin, measured directly)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def wait_ready(self, path: str = "/", timeout: float = 0) -> Existing:
        return self

    def stop(self) -> None:
        return None


def nginx(name: str, server_block: str, cpus: str | None, port: int | None = None) -> Process | None:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if binary is None:
        return None
    prefix = Path(tempfile.mkdtemp(prefix=f"bench-nginx-{name}-"))
    port = port or free_port()
    temp = "\n".join(f"  {k}_temp_path {prefix}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (prefix / "nginx.conf").write_text(f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{"user root;" if os.geteuid() == 0 else ""}
events {{ worker_connections 4096; }}
http {{
  access_log off;
{temp}
  {server_block.replace("PORT", str(port))}
}}
""")
    return Process(name, [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
                   f"http://127.0.0.1:{port}", cpus=cpus)


def nginx_origin(cpus: str | None, port: int | None = None) -> Process | None:
    body = BODY.decode().replace("'", "\\'")
    block = f"""server {{ listen 127.0.0.1:PORT; keepalive_requests 1000000;
    location / {{ default_type application/json; return 200 '{body}'; }} }}"""
    return nginx("origin", block, cpus, port)


def nginx_proxy(origin_url: str, cpus: str | None) -> Process | None:
    block = f"""upstream origin {{ server {origin_url.removeprefix("http://")}; keepalive 64; }}
  server {{ listen 127.0.0.1:PORT; keepalive_requests 1000000;
    location / {{ proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}"""
    return nginx("nginx-proxy", block, cpus)


def python_origin(cpus: str | None) -> Process:
    """Fallback origin when nginx is missing: granian serving the hello view."""
    return django_app("origin", "hello", cpus=cpus, workers=1)


def origin(cpus: str | None) -> Process:
    """The upstream every benchmark proxies to: nginx, or the Python fallback without it."""
    return nginx_origin(cpus) or python_origin(cpus)


def cpu_split() -> tuple[str | None, str | None]:
    """The CPU of the server measured and the CPUs of its load: CPU 0 and the others, or
    no pinning on a single core."""
    cores = os.cpu_count() or 1
    return ("0", f"1-{cores - 1}") if cores >= 2 else (None, None)


def django_app(name: str, kind: str, *, cpus: str | None, workers: int = 1, upstream: str = "",
               server: str = "uvicorn") -> Process:
    port = free_port()
    cmd = [sys.executable, *django_arguments(port, workers, server)]
    return Process(name, cmd, f"http://127.0.0.1:{port}", env={"BENCH_UPSTREAM": upstream}, cpus=cpus)


def django_arguments(port: int, workers: int = 1, server: str = "uvicorn") -> list[str]:
    """The interpreter's arguments serving the Django baselines (also under callgrind)."""
    if server == "uvicorn-one-write":  # with the gateway's protocol: one send() per response
        return ["-c", "import uvicorn; from gateway.http_protocol import GatewayHttpToolsProtocol as P; "
                f"uvicorn.run('bench.baselines.asgi:application', port={port}, workers={workers}, loop='uvloop', "
                "http=P, access_log=False, log_level='warning')"]
    if server == "uvicorn":
        return ["-m", "uvicorn", "bench.baselines.asgi:application", "--port", str(port),
                "--workers", str(workers), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                "--log-level", "warning"]
    return ["-m", "granian", "--interface", "asgi", "--port", str(port), "--workers",
            str(workers), "--loop", "uvloop", "--http", "1", "--no-ws", "--log-level", "warning",
            "bench.baselines.asgi:application"]


def gateway(name: str, config_path: Path, *, cpus: str | None, workers: int, env: dict | None = None,
            server: str = "uvicorn", tree: Path | None = None) -> Process:
    """The gateway of this checkout, or of ``tree`` (another checkout of the repository:
    ``python -m`` imports its packages first, from the working directory)."""
    port = free_port()
    cmd = [sys.executable, *gateway_arguments(config_path, port, workers, server)]
    # the first worker answers before the others listen, and a load started then would put
    # every connection on it: wait for each worker's own socket (gateway.listen_socket)
    separate = server == "uvicorn" and workers > 1 and listen_socket.enabled()
    return Process(name, cmd, f"http://127.0.0.1:{port}", env=env, cpus=cpus, listeners=workers if separate else 1,
                   cwd=tree)


def gateway_arguments(config_path: Path, port: int, workers: int = 1, server: str = "uvicorn") -> list[str]:
    """The interpreter's arguments running the gateway (also under callgrind)."""
    return ["-m", "gateway", "serve", "--config", str(config_path), "--port", str(port),
            "--workers", str(workers), "--server", server]
