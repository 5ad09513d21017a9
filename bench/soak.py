"""Soak: the gateway under constant load for a while, one fault injected midway.

``python -m bench.soak --seconds 300 --rate 300`` starts two origins (nginx when
installed), a gateway with a healthy route and a route over a two-target upstream,
drives both routes at a constant rate, kills one target of the second upstream for
the middle fifth of the run, then brings it back. It reports errors per route and the
p99 before, during and after the fault, and the gateway workers' RSS at start and end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil
import yaml

from bench import servers
from bench.run import RESULTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--rate", type=float, default=300, help="requests per second, both routes")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    healthy = servers.origin(None)
    target_a = servers.origin(None)
    target_b = servers.origin(None)
    for origin in (healthy, target_a, target_b):
        origin.wait_ready()
    gateway = servers.gateway("soak", _config(healthy.url, target_a.url, target_b.url), cpus=None,
                              workers=args.workers, env={"GATEWAY_ACCESS_LOG": "off"})
    try:
        gateway.wait_ready("/-/health/ready")
        report = asyncio.run(_soak(gateway, target_b, args))
    finally:
        for process in (gateway, healthy, target_a, target_b):
            process.stop()
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak-latest.json").write_text(json.dumps(report, indent=2))
    return 0


def _config(healthy: str, a: str, b: str) -> Path:
    config = {
        "upstreams": {
            "healthy": {"targets": [healthy]},
            "pair": {"targets": [a, b], "retries": {"attempts": 1},
                     "health": {"passive": {"consecutive_failures": 1, "base_ejection_seconds": 2}}},
        },
        "routes": [
            {"name": "healthy", "match": {"path_prefix": "/healthy"}, "upstream": "healthy"},
            {"name": "faulty", "match": {"path_prefix": "/faulty"}, "upstream": "pair"},
        ],
    }
    path = Path(tempfile.mkdtemp(prefix="soak-")) / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _worker_rss(gateway) -> int:
    root = psutil.Process(gateway.proc.pid)
    workers = root.children(recursive=True) or [root]  # one uvicorn worker runs in the launcher
    return sum(p.memory_info().rss for p in workers)


async def _soak(gateway, victim, args) -> dict:
    samples: list[tuple[float, str, int, float]] = []
    started = time.monotonic()
    fault = (started + args.seconds * 0.4, started + args.seconds * 0.6)
    rss_start = _worker_rss(gateway)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        fault_task = asyncio.create_task(_inject(victim, fault))
        await _drive(http, gateway.url, args, started, samples)
        await fault_task
    rss_end = _worker_rss(gateway)
    return _summarise(samples, started, fault, rss_start, rss_end, args)


async def _inject(victim, window) -> None:
    await asyncio.sleep(max(0, window[0] - time.monotonic()))
    victim.proc.send_signal(15)  # the target dies
    await asyncio.sleep(max(0, window[1] - time.monotonic()))
    fresh = servers.nginx_origin(None, port=int(victim.url.rsplit(":", 1)[1])) or None
    if fresh is not None:
        victim.proc = fresh.proc  # the target comes back on the same port


async def _drive(http, url: str, args, started: float, samples: list) -> None:
    interval = 1 / args.rate
    pending: set[asyncio.Task] = set()
    n = 0
    while time.monotonic() < started + args.seconds:
        route = "healthy" if n % 2 == 0 else "faulty"
        task = asyncio.create_task(_one(http, f"{url}/{route}", route, samples))
        pending.add(task)
        task.add_done_callback(pending.discard)
        n += 1
        await asyncio.sleep(max(0, started + n * interval - time.monotonic()))
    await asyncio.gather(*pending)


async def _one(http, url: str, route: str, samples: list) -> None:
    began = time.monotonic()
    try:
        async with http.get(url) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, asyncio.TimeoutError):
        status = 0
    samples.append((began, route, status, (time.monotonic() - began) * 1000))


def _summarise(samples, started, fault, rss_start, rss_end, args) -> dict:
    def phase(t: float) -> str:
        return "before" if t < fault[0] else "during" if t < fault[1] else "after"

    report = {"seconds": args.seconds, "rate": args.rate, "requests": len(samples),
              "worker_rss_mib": {"start": round(rss_start / 2**20, 1), "end": round(rss_end / 2**20, 1),
                                 "growth_percent": round(100 * (rss_end - rss_start) / max(rss_start, 1), 1)},
              "routes": {}}
    for route in ("healthy", "faulty"):
        mine = [s for s in samples if s[1] == route]
        errors = sum(1 for s in mine if s[2] == 0 or s[2] >= 500)
        p99 = {}
        for name in ("before", "during", "after"):
            latencies = sorted(s[3] for s in mine if phase(s[0]) == name)
            p99[name] = round(latencies[int(len(latencies) * 0.99)], 2) if latencies else None
        report["routes"][route] = {"requests": len(mine), "errors": errors, "p99_ms": p99}
    return report


if __name__ == "__main__":
    raise SystemExit(main())
