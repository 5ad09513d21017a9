"""Circuit breaker, retry budget and outlier ejection, driven by an injected clock."""

from __future__ import annotations

from gateway.config.models import CircuitBreaker as BreakerConfig
from gateway.config.models import PassiveHealth
from gateway.proxy.balancer import Balancer
from gateway.proxy.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from gateway.proxy.retry import RetryBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_recovers_through_half_open():
    clock, changes = Clock(), []
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=3, open_seconds=10), clock, changes.append)
    for _ in range(2):
        assert breaker.try_acquire()
        breaker.record(False)
    assert breaker.state == CLOSED
    breaker.try_acquire()
    breaker.record(False)
    assert breaker.state == OPEN and not breaker.try_acquire()
    assert breaker.retry_after() == 10
    clock.now += 10
    assert breaker.try_acquire() and breaker.state == HALF_OPEN
    assert not breaker.try_acquire()  # one probe at a time
    breaker.record(True)
    assert breaker.state == CLOSED
    assert changes == [OPEN, HALF_OPEN, CLOSED]


def test_a_failed_probe_opens_the_breaker_again():
    clock = Clock()
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=1, open_seconds=5), clock)
    breaker.try_acquire()
    breaker.record(False)
    clock.now += 5
    assert breaker.try_acquire()
    breaker.record(False)
    assert breaker.state == OPEN and breaker.retry_after() == 5


def test_success_resets_the_consecutive_count():
    breaker = CircuitBreaker(BreakerConfig(failure_threshold=2), Clock())
    for outcome in (False, True, False, True, False):
        breaker.try_acquire()
        breaker.record(outcome)
    assert breaker.state == CLOSED


def test_failure_rate_in_window_opens_the_breaker():
    clock = Clock()
    config = BreakerConfig(failure_threshold=100, failure_rate=0.5, minimum_requests=10, window_seconds=10)
    breaker = CircuitBreaker(config, clock)
    for i in range(10):
        breaker.try_acquire()
        breaker.record(i % 2 == 0)  # alternate: never 100 in a row, but 50%
        clock.now += 0.1
    assert breaker.state == OPEN


def test_retry_budget_caps_retries_to_a_share_of_requests():
    clock = Clock()
    budget = RetryBudget(percent=20, min_per_second=0, clock=clock)
    for _ in range(100):
        budget.record_request()
    granted = sum(budget.try_spend() for _ in range(100))
    assert granted == 20


def test_retry_budget_always_allows_the_minimum_rate():
    budget = RetryBudget(percent=0, min_per_second=1, clock=Clock())
    assert sum(budget.try_spend() for _ in range(50)) == 10  # 1/s over the 10 s window


def test_retry_budget_window_slides():
    clock = Clock()
    budget = RetryBudget(percent=10, min_per_second=0, clock=clock)
    for _ in range(10):
        budget.record_request()
    assert budget.try_spend() and not budget.try_spend()
    clock.now += 11
    for _ in range(10):
        budget.record_request()
    assert budget.try_spend()


def test_outlier_is_ejected_with_exponential_backoff_and_returns():
    clock = Clock()
    passive = PassiveHealth(consecutive_failures=2, base_ejection_seconds=10, max_ejection_percent=50)
    balancer = Balancer(["a", "b"], "round_robin", passive, clock)
    a, b = balancer.states
    for _ in range(2):
        balancer.record(a, False)
    assert {balancer.pick().target for _ in range(4)} == {"b"}
    clock.now += 10
    assert {balancer.pick().target for _ in range(4)} == {"a", "b"}
    for _ in range(2):
        balancer.record(a, False)
    assert a.ejected_until == clock.now + 20  # doubled


def test_never_eject_beyond_the_max_percentage():
    passive = PassiveHealth(consecutive_failures=1, max_ejection_percent=50)
    balancer = Balancer(["a", "b"], "round_robin", passive, Clock())
    a, b = balancer.states
    balancer.record(a, False)
    balancer.record(b, False)
    assert a.ejected_until > 0 and b.ejected_until == 0


def test_when_every_target_is_out_all_are_tried_rather_than_none():
    balancer = Balancer(["a", "b"], "round_robin", None, Clock())
    for state in balancer.states:
        state.active_healthy = False
    assert {balancer.pick().target for _ in range(4)} == {"a", "b"}


def test_least_requests_prefers_the_idle_target():
    balancer = Balancer(["a", "b", "c"], "least_requests", None, Clock())
    balancer.states[0].in_flight = 5
    balancer.states[1].in_flight = 5
    picks = [balancer.pick().target for _ in range(300)]
    # power of two choices: c wins every pair it is drawn in (2/3 of pairs), ~200 of 300
    assert picks.count("c") > 150


def test_retry_goes_to_another_target():
    balancer = Balancer(["a", "b"], "round_robin", None, Clock())
    first = balancer.pick()
    assert balancer.pick(exclude=[first]).target != first.target
