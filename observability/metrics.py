"""Prometheus exposition shared by the gateway and the demo services.

Multiprocess mode is on when ``PROMETHEUS_MULTIPROC_DIR`` is set (the launcher sets and
wipes it): every worker writes its values to memory-mapped files and a scrape, served by
any worker, sums them, so totals are exact. prometheus_client does not store exemplars
in that mode; single-process OpenMetrics output carries them.
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics import _validate_exemplar as validate_exemplar
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.samples import Exemplar

# OpenTelemetry's default explicit buckets, in seconds, 0.005 .. 10.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
_extra_collectors: list = []


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def use_single_process(workers: str | None) -> None:
    """With one worker, keep values in memory (exemplars work); call before defining metrics.

    The launcher always sets ``PROMETHEUS_MULTIPROC_DIR``; a lone worker needs no
    aggregation, and prometheus_client picks its value class per metric at creation.
    """
    if workers == "1" and multiprocess():
        from prometheus_client import values

        os.environ.pop("PROMETHEUS_MULTIPROC_DIR")
        values.ValueClass = values.MutexValue


def add_scrape_collector(collector) -> None:
    """A collector computed at scrape time in the serving process (not shared by files)."""
    _extra_collectors.append(collector)
    if not multiprocess():
        REGISTRY.register(collector)


def _registry() -> CollectorRegistry:
    if not multiprocess():
        return REGISTRY
    from prometheus_client import multiprocess as mp

    registry = CollectorRegistry()
    mp.MultiProcessCollector(registry)
    for collector in _extra_collectors:
        registry.register(collector)
    return registry


def observe_many(child, observations: Sequence[tuple[float, Any]],
                 exemplar_of: Callable[[Any], dict[str, str]] | None = None) -> None:
    """``child.observe(amount, exemplar)`` for each observation, in one update per bucket
    touched and one of the sum: a gateway worker records the requests finished in one
    interval together, and each ``observe`` takes a lock twice and walks the
    buckets in Python (3 to 4 us a request under load). A bucket keeps the last exemplar
    given for it, as with ``observe``. An observation is ``(amount, exemplar or None)``,
    or with ``exemplar_of`` ``(amount, item or None)``: the exemplar is then made only for
    the last item of each bucket. Falls back to ``observe`` for a histogram child without
    prometheus_client's ``_upper_bounds``, ``_buckets`` and ``_sum``."""
    bounds = getattr(child, "_upper_bounds", None)
    if bounds is None or not hasattr(child, "_buckets") or not hasattr(child, "_sum"):
        for amount, item in observations:
            child.observe(amount, exemplar_of(item) if exemplar_of is not None and item is not None else item)
        return
    counts: dict[int, int] = {}
    exemplars: dict[int, tuple[Any, float]] = {}
    total = 0.0
    for amount, item in observations:
        total += amount
        if amount != amount:  # NaN: no bucket holds it, as with observe
            continue
        bucket = bisect_left(bounds, amount)  # the first bound >= amount, as observe finds it
        counts[bucket] = counts.get(bucket, 0) + 1
        if item is not None and (item or exemplar_of is not None):  # an empty exemplar is none
            exemplars[bucket] = item, amount
    child._sum.inc(total)
    buckets = child._buckets
    for bucket, count in counts.items():
        buckets[bucket].inc(count)
    if exemplars:
        now = time.time()
        for bucket, (item, amount) in exemplars.items():
            exemplar = exemplar_of(item) if exemplar_of is not None else item
            validate_exemplar(exemplar)
            buckets[bucket].set_exemplar(Exemplar(exemplar, amount, now))


def wants_openmetrics(accept: str) -> bool:
    return "application/openmetrics-text" in (accept or "")


def render(accept: str = "") -> tuple[bytes, str]:
    """The exposition body and its content type, OpenMetrics when the scraper asks."""
    registry = _registry()
    if wants_openmetrics(accept):
        return generate_openmetrics(registry), OPENMETRICS_TYPE
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_dead(pid: int) -> None:
    """Call from the server's child-exit hook: drops the dead worker's live gauges."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(pid)


def sweep_dead_workers(pids: Iterable[int] | None = None) -> None:
    """Mark every worker whose files exist but whose process is gone (cheap, per scrape)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    for pid in pids if pids is not None else _file_pids(directory):
        if not _alive(pid):
            mark_dead(pid)


def _file_pids(directory: str) -> set[int]:
    pids = set()
    for name in os.listdir(directory):
        if name.startswith("gauge_live") and name.endswith(".db"):
            tail = name.rsplit("_", 1)[-1][:-3]
            if tail.isdigit():
                pids.add(int(tail))
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
