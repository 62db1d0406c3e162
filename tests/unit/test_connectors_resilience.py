"""Backoff pacing and the circuit breaker, on a fake clock."""

from __future__ import annotations

import random

import pytest

from bonito_logs.connectors import CircuitBreaker, RetryPolicy, backoff_delay


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_then_caps():
    top = [backoff_delay(a, base=0.5, cap=30, rng=lambda: 1.0) for a in range(10)]
    assert top == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30, 30, 30, 30]


def test_backoff_full_jitter_stays_in_range():
    rng = random.Random(3)
    for attempt in range(40):
        ceiling = min(10.0, 0.2 * 2 ** attempt)
        samples = [backoff_delay(attempt, base=0.2, cap=10.0, rng=rng.random) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) - min(samples) > ceiling * 0.5  # actually jittered


def test_backoff_huge_attempt_does_not_overflow():
    assert backoff_delay(10_000, base=1, cap=60, rng=lambda: 1.0) == 60


def test_backoff_rejects_negative_attempt():
    with pytest.raises(ValueError):
        backoff_delay(-1)


def test_retry_policy_honours_retry_after_up_to_a_limit():
    policy = RetryPolicy(base=1, cap=8, max_attempts=3, max_retry_after=120, rng=lambda: 0.0)
    assert policy.delay(0) == 0.0
    assert policy.delay(0, retry_after=7) == 7
    assert policy.delay(0, retry_after=10_000) == 120
    assert RetryPolicy(rng=lambda: 1.0, cap=8).delay(5, retry_after=2) == 8
    assert not policy.exhausted(2)
    assert policy.exhausted(3)


def test_breaker_opens_after_threshold_consecutive_failures():
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown=10, clock=clock)
    assert breaker.state == "closed"
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # resets the streak
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    assert breaker.retry_in() == 10


def test_breaker_half_open_probe_then_closes_on_success():
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown=5, clock=clock)
    breaker.record_failure()
    clock.now += 4.9
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 0.1
    assert breaker.state == "half_open"
    assert breaker.allow()  # the one probe
    assert not breaker.allow()  # nobody else while it is out
    assert breaker.state == "half_open"
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()
    assert breaker.failures == 0


def test_breaker_failed_probe_reopens_for_a_full_cooldown():
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, cooldown=5, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.retry_in() == 5
    clock.now += 5
    assert breaker.state == "half_open"


def test_breaker_snapshot():
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown=30, clock=clock)
    breaker.record_failure()
    clock.now += 10
    assert breaker.snapshot() == {"state": "open", "consecutive_failures": 1, "retry_in_s": 20.0}


def test_breaker_threshold_must_be_positive():
    with pytest.raises(ValueError):
        CircuitBreaker(threshold=0)
