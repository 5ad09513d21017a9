"""The listening sockets of a multi-worker gateway: one SO_REUSEPORT socket per worker.

uvicorn binds one socket in its supervisor and every worker accepts on it, so whichever
worker wakes first takes a burst of new connections: 32 keep-alive clients opened at once
were measured split 29/3, and the worker with three idles while the other is saturated.
With SO_REUSEPORT (Kong's default ``reuseport``, Envoy's default on Linux) each worker
listens on its own socket bound to the same address and the kernel spreads new
connections over them by a hash of the client's address and port.

The supervisor's socket reserves the port (a clash fails at start-up) but never
listens, so no connection is ever queued on it. It reaches the workers the way uvicorn
hands every worker its sockets, by multiprocessing's pickling, and pickles as "bind
another socket like me": each worker, respawned ones and SIGHUP replacements included,
gets its own. Trade-off: connections still queued on a worker's socket when it exits are
reset (Linux 5.14+ hands them to the others with ``net.ipv4.tcp_migrate_req=1``).
"""

from __future__ import annotations

import socket
import sys

from gateway import switches


def enabled() -> bool:
    """Per-worker sockets on Linux unless ``GATEWAY_REUSE_PORT=off``."""
    return switches.on("GATEWAY_REUSE_PORT") and sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


class ReusePortSocket(socket.socket):
    def __reduce__(self):  # unpickled in a worker: a socket of its own on the same address
        return bind, (self.family, *self.getsockname()[:2])


def reserve(host: str, port: int) -> ReusePortSocket:
    """The supervisor's socket. A plain bind first: a port held by anything else,
    another gateway's per-worker sockets included, is refused instead of shared."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    return bind(family, host, port)


def bind(family: int, host: str, port: int) -> ReusePortSocket:
    sock = ReusePortSocket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def listeners(port: int) -> int:
    """Sockets listening on the TCP port (IPv4 and IPv6), from Linux's /proc tables:
    one per worker once every worker of a gateway is up, however many processes share one."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows)
                local = (row.split()[1:4:2] for row in rows)  # local address, state
                count += sum(1 for address, state in local
                             if state == "0A" and int(address.rsplit(":", 1)[1], 16) == port)
        except FileNotFoundError:
            continue
    return count
