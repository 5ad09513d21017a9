"""``observe_many`` leaves a histogram as ``observe`` called once per value would."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Histogram, values
from prometheus_client.multiprocess import MultiProcessCollector

from observability.metrics import DURATION_BUCKETS, observe_many

# on a bound, between bounds, below the first, beyond the last, and the same bucket twice
AMOUNTS = [0.005, 0.0049, 0.3, 0.3001, 12.0, 0.0, 0.075, 0.07, 2.5, 0.3]


def _samples(registry: CollectorRegistry) -> dict:
    return {(s.name, s.labels.get("le")): s for family in registry.collect() for s in family.samples
            if not s.name.endswith("_created")}


def _histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram("latency_seconds", "Latency.", ["route"], buckets=DURATION_BUCKETS, registry=registry)


def test_buckets_sum_count_and_exemplars_match_observe():
    one_by_one, batched = CollectorRegistry(), CollectorRegistry()
    exemplars = [{"trace_id": f"{i:032x}"} if i % 3 == 0 else None for i in range(len(AMOUNTS))]
    child = _histogram(one_by_one).labels("r")
    for amount, exemplar in zip(AMOUNTS, exemplars):
        child.observe(amount, exemplar)
    observe_many(_histogram(batched).labels("r"), list(zip(AMOUNTS, exemplars)))

    expected, got = _samples(one_by_one), _samples(batched)
    assert expected.keys() == got.keys()
    for key, sample in expected.items():
        assert got[key].value == pytest.approx(sample.value), key
        # each bucket keeps the exemplar of the last value given one
        want = sample.exemplar and (sample.exemplar.labels, sample.exemplar.value)
        assert (got[key].exemplar and (got[key].exemplar.labels, got[key].exemplar.value)) == want, key
    assert got["latency_seconds_count", None].value == len(AMOUNTS)
    assert got["latency_seconds_bucket", "0.005"].exemplar.labels == {"trace_id": f"{0:032x}"}
    assert got["latency_seconds_bucket", "0.5"].value == 8  # cumulative


def test_exemplars_made_on_demand_are_made_once_a_bucket_for_its_last_item():
    one_by_one, batched = CollectorRegistry(), CollectorRegistry()
    items = [i if i % 3 == 0 else None for i in range(len(AMOUNTS))]
    child = _histogram(one_by_one).labels("r")
    for amount, item in zip(AMOUNTS, items):
        child.observe(amount, None if item is None else {"trace_id": f"{item:032x}"})
    made = []

    def exemplar_of(item):
        made.append(item)
        return {"trace_id": f"{item:032x}"}

    observe_many(_histogram(batched).labels("r"), list(zip(AMOUNTS, items)), exemplar_of)

    expected, got = _samples(one_by_one), _samples(batched)
    for key, sample in expected.items():
        want = sample.exemplar and (sample.exemplar.labels, sample.exemplar.value)
        assert (got[key].exemplar and (got[key].exemplar.labels, got[key].exemplar.value)) == want, key
    assert sorted(made) == [0, 6, 9]  # 3 (0.3001) shares the 0.5 bucket with the later 9


def test_a_nan_counts_in_the_sum_only_as_with_observe():
    registry = CollectorRegistry()
    observe_many(_histogram(registry).labels("r"), [(0.2, None), (math.nan, None)])
    samples = _samples(registry)
    assert samples["latency_seconds_bucket", "+Inf"].value == 1
    assert math.isnan(samples["latency_seconds_sum", None].value)


def test_multiprocess_values_add_up_in_the_shared_files(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(lambda: 4242))
    child = _histogram(None).labels("r")
    observe_many(child, [(amount, None) for amount in AMOUNTS])
    observe_many(child, [(0.3, None)])

    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(tmp_path))
    samples = _samples(registry)
    assert samples["latency_seconds_count", None].value == len(AMOUNTS) + 1
    assert samples["latency_seconds_bucket", "0.25"].value == 5  # 0.005, 0.0049, 0.0, 0.075, 0.07
    assert samples["latency_seconds_bucket", "0.5"].value == 9
    assert samples["latency_seconds_sum", None].value == pytest.approx(sum(AMOUNTS) + 0.3)


class _Other:
    """A histogram child of another shape: observe() is all it offers."""

    def __init__(self) -> None:
        self.seen: list = []

    def observe(self, amount, exemplar=None) -> None:
        self.seen.append((amount, exemplar))


def test_a_child_without_prometheus_client_internals_gets_observe_calls():
    child = _Other()
    observe_many(child, [(0.1, None), (0.2, {"trace_id": "ab"})])
    assert child.seen == [(0.1, None), (0.2, {"trace_id": "ab"})]
