"""Run the gateway with its observability hooks timed: ``python -m bench.hook_timer serve ...``
(the arguments of ``python -m gateway``). Used by ``bench.hooks``.

Each function named in ``BENCH_HOOKS`` (``module:function`` or ``module:Class.method``,
comma-separated) is wrapped right after its module is first imported, so the hooks are
timed where they run: in the loaded worker, between the rest of the request's code. The
first one listed counts requests; every ``BENCH_HOOKS_WINDOW`` of them, the time spent in
each function per request (and its calls per request) is appended to the file
``BENCH_HOOKS_REPORT`` as one JSON line, and the counters restart.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import json
import os
import runpy
import sys
from time import perf_counter_ns


class Timers:
    def __init__(self, names: list[str], window: int, report: str) -> None:
        self.names, self.window, self.report = names, window, report
        self.totals = {name: [0, 0] for name in names}
        self.requests = 0

    def wrap(self, name: str, function, counts_requests: bool):
        total = self.totals[name]

        @functools.wraps(function)
        def timed(*args, **kwargs):
            started = perf_counter_ns()
            try:
                return function(*args, **kwargs)
            finally:
                total[0] += perf_counter_ns() - started
                total[1] += 1
                if counts_requests:
                    self.requests += 1
                    if self.requests == self.window:
                        self.flush()

        return timed

    def flush(self) -> None:
        n = self.requests
        line = {name: {"us": ns / n / 1000, "calls": calls / n} for name, (ns, calls) in self.totals.items()}
        with open(self.report, "a") as out:
            out.write(json.dumps(line) + "\n")
        for total in self.totals.values():
            total[0] = total[1] = 0
        self.requests = 0


class _AfterImport(importlib.abc.MetaPathFinder):
    """Wraps the listed functions of a module once it has been executed."""

    def __init__(self, timers: Timers, by_module: dict[str, list[str]]) -> None:
        self.timers, self.by_module = timers, by_module

    def find_spec(self, name, path, target=None):
        if name not in self.by_module:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module) -> None:
            execute(module)
            for qualified in self.by_module.pop(name):
                owner_path, _, attribute = qualified.rpartition(".")
                owner = module
                for part in filter(None, owner_path.split(".")):
                    owner = getattr(owner, part)
                label = f"{name}:{qualified}"
                counts = label == self.timers.names[0]
                setattr(owner, attribute, self.timers.wrap(label, getattr(owner, attribute), counts))

        spec.loader.exec_module = exec_module
        return spec


def main() -> None:
    names = [n.strip() for n in os.environ["BENCH_HOOKS"].split(",") if n.strip()]
    timers = Timers(names, int(os.environ.get("BENCH_HOOKS_WINDOW", "5000")), os.environ["BENCH_HOOKS_REPORT"])
    by_module: dict[str, list[str]] = {}
    for name in names:
        module, _, qualified = name.partition(":")
        by_module.setdefault(module, []).append(qualified)
    sys.meta_path.insert(0, _AfterImport(timers, by_module))
    sys.argv = ["gateway", *sys.argv[1:]]
    runpy.run_module("gateway", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
