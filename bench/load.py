"""Load generators: wrk when installed, else a small keep-alive asyncio client."""

from __future__ import annotations

import asyncio
import gc
import os
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str
    requests: int = 0
    redis_calls: int | None = None  # EVALSHA calls the Redis server saw during the run
    rounds_rps: list[float] | None = None  # every round's req/s when this is the median of several


def run_load(url: str, *, connections: int, seconds: float, headers: dict | None = None,
             cpus: str | None = None) -> Result:
    if shutil.which("wrk"):
        return _wrk(url, connections, seconds, headers or {}, cpus)
    return asyncio.run(_python_load(url, connections, seconds, headers or {}))


def _wrk(url: str, connections: int, seconds: float, headers: dict, cpus: str | None) -> Result:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", url]
    for name, value in headers.items():
        cmd[1:1] = ["-H", f"{name}: {value}"]
    if cpus and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpus, *cmd]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    out = run.stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk failed on {url}: {out}{run.stderr}")
    rps = float(found.group(1))
    p50 = _latency(out, "50%")
    p99 = _latency(out, "99%")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    errors += sum(int(x) for x in sock.groups()) if sock else 0
    total = re.search(r"(\d+) requests in", out)
    return Result(rps, p50, p99, errors, "wrk", int(total.group(1)) if total else 0)


def _latency(out: str, label: str) -> float:
    match = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


async def _python_load(url: str, connections: int, seconds: float, headers: dict) -> Result:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}\r\n".encode()
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            status, length = await _read_response(reader)
            latencies.append(time.perf_counter() - started)
            errors += status >= 400
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(len(latencies) / elapsed, statistics.median(latencies) * 1000,
                  latencies[int(len(latencies) * 0.99)] * 1000, errors, "python", len(latencies))


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    match = re.search(rb"(?i)content-length:\s*(\d+)", head)
    length = int(match.group(1)) if match else 0
    await reader.readexactly(length)
    return status, length


def run_rate(url: str, *, rate: float, seconds: float, headers: dict | None = None,
             cpus: str | None = None) -> Result:
    """Open-loop load at a constant rate (latency measured from the scheduled send time).

    It runs in this process: ``cpus`` pins it there for the run, away from the server.
    Its garbage collector is off for the run: a full collection of this process (the
    benchmark's whole heap, thousands of request tasks) paused it for tens of ms, which
    it counted as the server's latency."""
    previous = os.sched_getaffinity(0)
    if cpus:
        first, _, last = cpus.partition("-")
        os.sched_setaffinity(0, range(int(first), int(last or first) + 1))
    gc.collect()
    gc.disable()
    try:
        return asyncio.run(_rate(url, rate, seconds, headers or {}))
    finally:
        gc.enable()
        os.sched_setaffinity(0, previous)


async def _rate(url: str, rate: float, seconds: float, headers: dict) -> Result:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        async def one(scheduled: float) -> None:
            nonlocal errors
            try:
                async with http.get(url) as response:
                    await response.read()
                    errors += response.status >= 400
            except aiohttp.ClientError:
                errors += 1
            latencies.append(time.perf_counter() - scheduled)

        tasks = []
        n = 0
        while (scheduled := started + n / rate) < started + seconds:
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            tasks.append(asyncio.create_task(one(scheduled)))
            n += 1
        await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(len(latencies) / elapsed, statistics.median(latencies) * 1000,
                  latencies[int(len(latencies) * 0.99)] * 1000, errors, "python-rate")
