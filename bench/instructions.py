"""Instructions per request under callgrind: ``python -m bench.instructions [configs] [-n 400]``.

Requests/s on a shared 2-core machine move by ~10% between runs, too much to see a
5% change. valgrind's callgrind counts the instructions the gateway worker executes
(repeatable to ~0.2%), so an optimisation is measured as instructions per request
before and after, configuration by configuration. Collection is switched on only
around the measured requests (after start-up and a warm-up), which are sent by four
keep-alive clients. It is slow (~50x), so it sends a few hundred requests, not a load:
it measures CPU per request, not latency or behaviour under concurrency. ``django-hello``
(the load benchmark's Django baseline) gives ``hello/this``: the instructions ratio that
stands for the req/s ratio the performance issue sets (kernel time is not counted).

Caveat: span export batches are smaller than under real load (the export interval is
in wall-clock time and the server runs ~50x slower), so tracing's share is overstated.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench import features, servers

#: the bare Django async hello world of the load benchmark, same server and settings
HELLO = "django-hello"
CONFIGS = (HELLO, "open", "metrics", "access-log", "tracing", "tracing-sampled", "observed", "observed-sampled", "jwt", "ratelimit", "secured", "full",
           "full-sampled")


def count(command, env: dict, headers: dict, requests: int) -> float:
    """Instructions per request of one server process (``command(port)`` gives its Python
    arguments and the path to request) serving ``requests`` requests."""
    port = servers.free_port()
    out = Path(tempfile.mkdtemp(prefix="bench-callgrind-"))
    arguments, path = command(port)
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/callgrind.%p",
           sys.executable, *arguments]
    with open(out / "server.log", "w") as log:
        process = subprocess.Popen(cmd, cwd=servers.ROOT, env={**os.environ, **env, "PYTHONMALLOC": "malloc"},
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}{path}"
    try:
        _wait_ready(process, url, headers)
        _send(url, headers, 200)  # warm-up
        subprocess.run(["callgrind_control", "-i", "on", str(process.pid)], check=True, capture_output=True)
        _send(url, headers, requests)
        subprocess.run(["callgrind_control", "-i", "off", str(process.pid)], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-d", str(process.pid)], check=True, capture_output=True)
    finally:
        os.killpg(process.pid, 15)
        process.wait(60)
    totals = [int(line.split()[1]) for path in glob.glob(f"{out}/callgrind.*") for line in open(path)
              if line.startswith(("summary:", "totals:"))]
    shutil.rmtree(out, ignore_errors=True)
    return max(totals) / requests


def _wait_ready(process: subprocess.Popen, url: str, headers: dict, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited under callgrind")
        try:
            httpx.get(url, headers=headers, timeout=10)
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise TimeoutError("the server did not start under callgrind")


def _send(url: str, headers: dict, requests: int, clients: int = 4) -> None:
    def one_client(n: int) -> None:
        with httpx.Client(headers=headers, timeout=60) as client:
            for _ in range(n):
                client.get(url).raise_for_status()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one_client, [requests // clients] * clients))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions")
    parser.add_argument("configs", nargs="*", help=f"any of {', '.join(CONFIGS)} (default: all)")
    parser.add_argument("-n", "--requests", type=int, default=400)
    args = parser.parse_args(argv)
    unknown = set(args.configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configuration(s): {', '.join(sorted(unknown))}")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 2
    origin = servers.origin(None)
    sink = features.otlp_sink(None)
    origin.wait_ready()
    sink.wait_ready()
    folder = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    configurations = features.configurations(features.Signer(folder), sink.url)
    try:
        base = hello = None
        for name in args.configs or CONFIGS:
            started = time.monotonic()
            if name == HELLO:
                per_request = count(lambda port: (servers.django_arguments(port), "/hello"), {"BENCH_UPSTREAM": ""},
                                    {}, args.requests) / 1000
                hello = per_request
            else:
                policies, env, headers = configurations[name]
                config = features.gateway_config(origin.url, policies, folder)
                per_request = count(lambda port, c=config: (servers.gateway_arguments(c, port), "/bench"), env, headers,
                                    args.requests) / 1000
            base = per_request if name == "open" else base
            extra = f"  (+{per_request - base:,.0f}k over open)" if base and name not in ("open", HELLO) else ""
            if hello and name != HELLO:
                extra += f"  hello/this {hello / per_request:.2f}"
            print(f"{name:14} {per_request:9,.0f}k instructions/request{extra}  [{time.monotonic() - started:.0f} s]")
    finally:
        origin.stop()
        sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
