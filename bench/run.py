"""One-command load benchmark: ``python -m bench`` (or ``make bench``).

Every figure is a ratio inside one run on one machine, never an absolute target; on a
shared machine use ``--rounds 3`` (or more): each scenario is measured that many times,
interleaved, and its median kept; a ratio is the median of the same round's ratios.
Pinning (when ``taskset`` exists and the machine has 2+ cores): the server under test
runs on CPU 0, the load generator and the origin on the other CPUs, so the server
under test never competes with the load it is measured by.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from bench import features, servers
from bench.load import Result, run_load

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cores = os.cpu_count() or 1
    sut_cpus, load_cpus = servers.cpu_split()
    if args.workers > 1:
        sut_cpus = None  # several workers need every core; say so in the table
    origin = servers.origin(load_cpus)
    origin.wait_ready()
    sink = features.otlp_sink(load_cpus)
    sink.wait_ready()
    runs: dict[str, list[Result]] = {}
    extras: dict = {}
    try:
        for _ in range(args.rounds):
            for name, start, path, headers in _scenarios(args, origin.url, sink.url, sut_cpus):
                if args.only and name not in args.only:
                    continue
                result = _measure(name, start, path, headers, args, load_cpus)
                if result is not None:
                    runs.setdefault(name, []).append(result)
        results = {name: _median(measured) for name, measured in runs.items()}
        limited = results.get("gateway-ratelimit")
        if limited and limited.redis_calls is not None and limited.requests:
            extras["redis_evalsha_per_request"] = round(limited.redis_calls / limited.requests, 3)
        if args.extras:
            extras.update(_extras(args, origin.url, sink.url, sut_cpus, load_cpus))
    finally:
        origin.stop()
        sink.stop()
    _report(results, args, cores, sut_cpus, extras)
    return 0


def _median(measured: list[Result]) -> Result:
    """The round with the median req/s (the lower middle one of an even count)."""
    ordered = sorted(measured, key=lambda result: result.rps)
    middle = ordered[(len(ordered) - 1) // 2]
    if len(measured) > 1:
        middle.rounds_rps = [round(result.rps) for result in measured]
    return middle


def _extras(args, origin_url: str, sink_url: str, sut_cpus, load_cpus) -> dict:
    """Concurrency collapse and latency at half load of the full route (every trace sampled,
    then 10% head sampling), and its worker scaling; with ``--rounds``, each figure is the
    median of the rounds (every round is kept under ``rounds``)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-key-"))
    configurations = features.configurations(features.Signer(folder), sink_url)
    config = features.gateway_config(origin_url, configurations["full"][0], folder)
    rounds = [_extras_round(args, config, configurations, sut_cpus, load_cpus) for _ in range(args.rounds)]
    extras: dict = {key: round(statistics.median(r[key] for r in rounds), 3) for key in rounds[0]}
    if len(rounds) > 1:
        extras["rounds"] = rounds
    return extras


def _extras_round(args, config: Path, configurations: dict, sut_cpus, load_cpus) -> dict:
    _, env, auth = configurations["full"]
    extras: dict = {}
    for suffix, name in (("", "full"), ("_sampled", "full-sampled")):
        sampled_env = configurations[name][1]
        gw = servers.gateway("gateway", config, cpus=sut_cpus, workers=1, env=sampled_env, server=args.server)
        try:
            extras.update({k + suffix: v for k, v in _concurrency(gw, auth, args, load_cpus).items()})
        finally:
            gw.stop()
    scaling = {}
    for workers in (1, 2):
        gw = servers.gateway("gateway", config, cpus=None, workers=workers, env=env, server=args.server)
        try:
            gw.wait_ready("/bench")
            run_load(gw.url + "/bench", connections=4, seconds=1, headers=auth)
            scaling[workers] = run_load(gw.url + "/bench", connections=args.connections, seconds=args.seconds,
                                        headers=auth).rps
        finally:
            gw.stop()
    extras["rps_1_worker_unpinned"], extras["rps_2_workers_unpinned"] = scaling[1], scaling[2]
    extras["workers_2_over_1"] = round(scaling[2] / scaling[1], 3)
    print(f"workers: 1 -> {scaling[1]:.0f} req/s, 2 -> {scaling[2]:.0f} req/s (unpinned, sharing the cores with load and origin)")
    return extras


def _concurrency(gw, auth: dict, args, load_cpus) -> dict:
    """c8 vs c64 (collapse under concurrency) and p99 at a constant half of the best rate."""
    from bench.load import run_rate

    gw.wait_ready("/bench")
    run_load(gw.url + "/bench", connections=4, seconds=1, headers=auth, cpus=load_cpus)
    by_c = {c: run_load(gw.url + "/bench", connections=c, seconds=args.seconds, headers=auth, cpus=load_cpus)
            for c in (8, 64)}
    half = max(by_c[8].rps, by_c[64].rps) / 2
    at_half = run_rate(gw.url + "/bench", rate=half, seconds=args.seconds, headers=auth, cpus=load_cpus)
    print(f"c8 {by_c[8].rps:.0f} req/s, c64 {by_c[64].rps:.0f} req/s; at {half:.0f} req/s p99 {at_half.p99_ms:.2f} ms")
    return {"rps_c8": by_c[8].rps, "rps_c64": by_c[64].rps, "c64_over_c8": round(by_c[64].rps / by_c[8].rps, 3),
            "half_rate": round(half), "p99_ms_at_half_rate": round(at_half.p99_ms, 2)}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--server", default="uvicorn", choices=("granian", "uvicorn"))
    p.add_argument("--only", nargs="*", help="scenario names to run")
    p.add_argument("--rounds", type=int, default=1,
                   help="measure every scenario (and each --extras figure) this many times, interleaved, "
                        "and keep the median (req/s on a shared machine moves ~10%% from one run to the next)")
    p.add_argument("--extras", action="store_true",
                   help="also: concurrency 8 vs 64, p99 at half the max rate, 1 vs 2 workers")
    return p


def _scenarios(args, origin_url: str, sink_url: str, cpus: str | None):
    w, srv = args.workers, args.server
    yield "upstream-direct", lambda: servers.Existing(origin_url), "/", {}
    yield "nginx-proxy", lambda: servers.nginx_proxy(origin_url, cpus), "/", {}
    yield "django-hello", lambda: servers.django_app("django-hello", "hello", cpus=cpus, workers=w, server=srv), "/hello", {}
    if srv == "uvicorn":
        yield "django-hello-one-write", lambda: servers.django_app("django-hello-one-write", "hello", cpus=cpus, workers=w, server="uvicorn-one-write"), "/hello", {}
    yield "naive-proxy", lambda: servers.django_app("naive-proxy", "naive", cpus=cpus, workers=w, upstream=origin_url, server=srv), "/bench", {}
    folder = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    configurations = features.configurations(features.Signer(folder), sink_url)
    for config_name in ("httpcore", "open", "observed", "observed-sampled", "jwt", "jwt-nocache", "ratelimit", "secured", "full", "full-sampled"):
        policies, env, headers = configurations[config_name]
        name = "gateway-aiohttp" if config_name == "open" else f"gateway-{config_name}"
        config = features.gateway_config(origin_url, policies, folder)
        yield name, lambda n=name, c=config, e=env: servers.gateway(n, c, cpus=cpus, workers=w, env=e, server=srv), "/bench", headers


def _measure(name, start, path, headers, args, load_cpus) -> Result:
    process = start()
    if process is None:
        print(f"{name}: skipped (nginx not installed)")
        return None
    try:
        url = process.url
        process.wait_ready(path)
        run_load(url + path, connections=4, seconds=1, headers=headers, cpus=load_cpus)  # warm-up
        before = features.redis_evalsha_calls()
        result = run_load(url + path, connections=args.connections, seconds=args.seconds,
                          headers=headers, cpus=load_cpus)
        after = features.redis_evalsha_calls()
        result.redis_calls = after - before if None not in (before, after) else None
        print(f"{name:22} {result.rps:10.0f} req/s  p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  errors {result.errors}")
        return result
    finally:
        process.stop()
        time.sleep(0.3)


def _report(results: dict, args, cores: int, sut_cpus, extras: dict) -> None:
    def ratio(a: str, b: str) -> float | None:
        """Median over rounds of the two scenarios' req/s ratio in the same round."""
        if not (results.get(a) and results.get(b)):
            return None
        pairs = zip(results[a].rounds_rps or [results[a].rps], results[b].rounds_rps or [results[b].rps])
        ratios = sorted(x / y for x, y in pairs)
        return round(ratios[(len(ratios) - 1) // 2], 3)

    gateways = [n for n in results if n.startswith("gateway") and results[n]]
    ratios = {}
    for g in gateways:
        for base in ("django-hello", "django-hello-one-write", "nginx-proxy", "upstream-direct", "naive-proxy"):
            ratios[f"{g}/{base}"] = ratio(g, base)
    for feature in ("gateway-observed", "gateway-observed-sampled", "gateway-jwt", "gateway-jwt-nocache", "gateway-ratelimit", "gateway-full",
                    "gateway-full-sampled"):
        ratios[f"{feature}/gateway-aiohttp"] = ratio(feature, "gateway-aiohttp")
    for observed in ("gateway-full", "gateway-full-sampled"):  # observability on a JWT + rate-limited route
        ratios[f"{observed}/gateway-secured"] = ratio(observed, "gateway-secured")
    print(f"\ncores: {cores}  workers: {args.workers}  connections: {args.connections}  "
          f"server: {args.server}  pinned: {'SUT on CPU 0' if sut_cpus else 'no'}")
    for key, value in ratios.items():
        if value is not None:
            print(f"  {key:45} {value:6.3f}")
    for key, value in extras.items():
        if key != "rounds":
            print(f"  {key:45} {value}")
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cores": cores, "python": platform.python_version(), "platform": platform.platform()},
        "settings": vars(args),
        "results": {k: vars(v) for k, v in results.items() if v},
        "ratios": ratios,
        "extras": extras,
    }
    (RESULTS / "latest.json").write_text(json.dumps(payload, indent=2))
