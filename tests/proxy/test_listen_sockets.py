"""Several workers: each listens on its own SO_REUSEPORT socket and new connections are
spread over them by the kernel, instead of going to whichever worker woke first."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import ExitStack

import psutil
import pytest

from gateway.listen_socket import listeners
from tests.support.gateway import ROOT, GatewayProcess
from tests.support.services import require_linux


def _listening_sockets(port: int) -> int:
    require_linux("the test reads /proc/net/tcp")
    return listeners(port)


def _wait_for_listeners(gateway: GatewayProcess, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while _listening_sockets(gateway.port) != count:
        assert time.monotonic() < deadline, f"{_listening_sockets(gateway.port)} listening sockets"
        time.sleep(0.1)


def _workers(gateway: GatewayProcess) -> list[psutil.Process]:
    return [child for child in psutil.Process(gateway.proc.pid).children()
            if "resource_tracker" not in " ".join(child.cmdline())]


@pytest.fixture
def two_workers(upstreams):
    config = {"upstreams": {"app": {"targets": [upstreams[0].url]}},
              "routes": [{"name": "all", "match": {"path_prefix": "/"}, "upstream": "app"}]}
    with GatewayProcess(config, workers=2) as gateway:
        _wait_for_listeners(gateway, 2)
        yield gateway


def test_connections_opened_at_once_reach_both_workers(two_workers):
    with ExitStack() as stack:
        clients = [stack.enter_context(socket.create_connection(("127.0.0.1", two_workers.port)))
                   for _ in range(64)]
        for client in clients:  # a served request: the connection has been accepted
            client.sendall(b"GET /-/health/live HTTP/1.1\r\nHost: gw\r\n\r\n")
            client.settimeout(5)
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
        held = {worker.pid: sum(1 for c in worker.net_connections("tcp")
                                if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == two_workers.port)
                for worker in _workers(two_workers)}
    assert sum(held.values()) == 64, held
    assert min(held.values()) >= 16, held  # a hash split of 64: below 16 is ~4 standard deviations


def test_a_respawned_worker_listens_on_its_own_socket_again(two_workers):
    victim = _workers(two_workers)[0]
    victim.kill()
    victim.wait(5)
    deadline = time.monotonic() + 30
    while len([w for w in _workers(two_workers) if w.pid != victim.pid]) < 2:
        assert time.monotonic() < deadline, "the worker was not respawned"
        time.sleep(0.2)
    _wait_for_listeners(two_workers, 2)


def test_a_port_held_by_another_gateway_is_refused_not_shared(two_workers):
    second = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(two_workers.config_path),
         "--port", str(two_workers.port), "--workers", "2"],
        cwd=ROOT, env=two_workers.env, capture_output=True, text=True, timeout=30)
    assert second.returncode == 1
    assert f"cannot listen on 127.0.0.1:{two_workers.port}: Address already in use" in second.stderr
    assert _listening_sockets(two_workers.port) == 2
