"""Two gateway configurations measured at the same time on one core:
``python -m bench.paired open observed [--rounds 6] [--seconds 5]``.

On a shared VM the machine's speed drifts by 10% and more between runs a few seconds
apart (seen here: the same `open` gateway at 1,822 and 3,084 req/s in one session), so
the ratio of two runs made one after the other carries that drift. Here both gateways
are pinned to CPU 0 and loaded at once, each by its own wrk on the other CPUs: the
kernel splits the core between them, whatever the machine does hits both, and the
ratio of their req/s is the ratio of their CPU per request.

``--baseline-tree PATH`` runs the baseline from another checkout (``git worktree add
/tmp/before <commit>``): ``python -m bench.paired observed observed --baseline-tree
/tmp/before`` measures what the commits since gained (two identical trees: 1.001).

``--alone`` loads one gateway at a time instead (baseline, other, baseline, ...; each other
against the mean of the baselines around it): no second process shares the core's caches,
at the price of the drift between two runs a few seconds apart.

Read it beside ``python -m bench``, not instead: two processes sharing a core switch
more than one alone, and a configuration that leans on an unpinned process (Redis)
finds it competing for CPU 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import features, servers
from bench.load import run_load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paired")
    parser.add_argument("baseline", help="a gateway configuration of bench.features (open, secured, ...)")
    parser.add_argument("other", help="the configuration compared with it (observed, full, ...)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--baseline-tree", type=Path, help="run the baseline from this checkout of the repository")
    parser.add_argument("--alone", action="store_true",
                        help="load one gateway at a time, in alternation: each round's other against its two baselines")
    args = parser.parse_args(argv)
    if (os.cpu_count() or 1) < 2:
        print("needs 2 cores: the gateways on one, their load on the others", file=sys.stderr)
        return 2
    sut, load = servers.cpu_split()
    origin = servers.origin(load)
    sink = features.otlp_sink(load)
    gateways: list[tuple[servers.Process, dict]] = []
    try:
        origin.wait_ready()
        sink.wait_ready()
        folder = Path(tempfile.mkdtemp(prefix="bench-paired-"))
        configurations = features.configurations(features.Signer(folder), sink.url)
        unknown = {args.baseline, args.other} - set(configurations)
        if unknown:
            parser.error(f"unknown configuration(s): {', '.join(sorted(unknown))}")
        for name, tree in ((args.baseline, args.baseline_tree), (args.other, None)):
            policies, env, headers = configurations[name]
            config = features.gateway_config(origin.url, policies, folder)
            gateways.append((servers.gateway(name, config, cpus=sut, workers=1, env=env, tree=tree), headers))
        for gateway, _ in gateways:
            gateway.wait_ready("/bench")

        def measure(index: int, seconds: float) -> float:
            gateway, headers = gateways[index]
            return run_load(gateway.url + "/bench", connections=args.connections, seconds=seconds,
                            headers=headers, cpus=load).rps

        ratios = _alone(args, measure) if args.alone else _together(args, measure)
        print(f"{args.other}/{args.baseline}: median {statistics.median(ratios):.3f}"
              f" (rounds {min(ratios):.3f} .. {max(ratios):.3f})")
    finally:
        for gateway, _ in gateways:
            gateway.stop()
        origin.stop()
        sink.stop()
    return 0


def _together(args, measure) -> list[float]:
    ratios = []
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda index: measure(index, 2), (0, 1)))  # warm-up
        for number in range(args.rounds):
            baseline, other = pool.map(lambda index: measure(index, args.seconds), (0, 1))
            ratios.append(other / baseline)
            print(f"round {number + 1}: {args.baseline} {baseline:.0f} req/s, {args.other} {other:.0f} req/s,"
                  f" ratio {ratios[-1]:.3f}", flush=True)
    return ratios


def _alone(args, measure) -> list[float]:
    """Baseline, other, baseline, other, ... baseline: each other against the mean of the
    baselines around it, which cancels a drift that is steady over a round."""
    measure(0, 2), measure(1, 2)  # warm-up
    ratios, before = [], measure(0, args.seconds)
    for number in range(args.rounds):
        other = measure(1, args.seconds)
        after = measure(0, args.seconds)
        ratios.append(other / ((before + after) / 2))
        print(f"round {number + 1}: {args.baseline} {before:.0f}/{after:.0f} req/s, {args.other} {other:.0f} req/s,"
              f" ratio {ratios[-1]:.3f}", flush=True)
        before = after
    return ratios


if __name__ == "__main__":
    sys.exit(main())
