"""What each observability hook costs in the loaded worker: ``python -m bench.hooks
[observed] [--seconds 10] [--hooks module:function,...]``.

Throughput ratios move by ±2% between runs on a shared VM, and a microbenchmark of a hook
runs it with hot caches, two to five times faster than the worker does under load (where
every request's code competes for the caches). Here the gateway runs under wrk with each
hook timed in place (``bench.hook_timer``): microseconds per request, inclusive of the
hooks it calls, the same in repeated runs within ~5%. The timer itself costs ~0.2 us a
call (``traceresponse``, a one-line function, shows it). A change to a hook is measured as
its figure before and after; what the hooks do to the rest of the request's code (cache
misses they cause elsewhere) is not in it: ``bench.paired`` measures the whole.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from bench import features, servers
from bench.load import run_load

#: the first is the per-request counter; nested hooks are inside their callers' figures
HOOKS = (
    "gateway.observe:request_started",
    "gateway.observe:_start_server_span",
    "gateway.observe:upstream_call",
    "gateway.observe:upstream_call_done",
    "gateway.observe:request_finished",
    "gateway.observe:_finish_server_span",
    "gateway.observe:traceresponse",
    "gateway.observe:_record",
    "gateway.observe:_access_fields",
    "gateway.observe:info_lines",
    "observability.loop_export:encode",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hooks")
    parser.add_argument("config", nargs="?", default="observed", help="a configuration of bench.features")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--hooks", default=",".join(HOOKS), help="module:function,... (the first counts requests)")
    args = parser.parse_args(argv)
    sut, load = servers.cpu_split()
    origin = servers.origin(load)
    sink = features.otlp_sink(load)
    folder = Path(tempfile.mkdtemp(prefix="bench-hooks-"))
    report = folder / "hooks.jsonl"
    gateway = None
    try:
        origin.wait_ready()
        sink.wait_ready()
        policies, env, headers = features.configurations(features.Signer(folder), sink.url)[args.config]
        config = features.gateway_config(origin.url, policies, folder)
        port = servers.free_port()
        command = [sys.executable, "-m", "bench.hook_timer", *servers.gateway_arguments(config, port)[2:]]
        env = {**env, "BENCH_HOOKS": args.hooks, "BENCH_HOOKS_REPORT": str(report), "BENCH_HOOKS_WINDOW": "2000"}
        gateway = servers.Process(args.config, command, f"http://127.0.0.1:{port}", env=env, cpus=sut)
        gateway.wait_ready("/bench")
        url = gateway.url + "/bench"
        run_load(url, connections=args.connections, seconds=2, headers=headers, cpus=load)  # warm-up
        skip = len(_windows(report))
        result = run_load(url, connections=args.connections, seconds=args.seconds, headers=headers, cpus=load)
        windows = _windows(report)[skip + 1:]  # the first may have started during the warm-up
    finally:
        if gateway is not None:
            gateway.stop()
        sink.stop()
        origin.stop()
    if not windows:
        print("no complete window of requests under load: run longer", file=sys.stderr)
        return 1
    print(f"{args.config}: {result.rps:.0f} req/s, {len(windows)} windows; us per request (median), calls per request")
    for name in windows[0]:
        us = statistics.median(w[name]["us"] for w in windows)
        calls = statistics.median(w[name]["calls"] for w in windows)
        print(f"  {name:45s} {us:7.2f} us  {calls:5.2f}")
    return 0


def _windows(report: Path) -> list[dict]:
    return [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []


if __name__ == "__main__":
    sys.exit(main())
