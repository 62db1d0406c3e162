"""The fair scheduler: global and per-org limits, round-robin between orgs."""

from __future__ import annotations

import pytest

from bonito_logs.streams.exporter.scheduler import FairScheduler


def _drain(scheduler):
    started = []
    while (picked := scheduler.next_job()) is not None:
        started.append(picked)
    return started


def test_round_robin_between_orgs():
    scheduler = FairScheduler(limit=10, per_org=10)
    for i in range(5):
        scheduler.add(f"a{i}", "A")
    scheduler.add("b0", "B")
    scheduler.add("c0", "C")
    order = [job for job, _ in _drain(scheduler)]
    assert order[:3] == ["a0", "b0", "c0"]  # the org with 5 waiting does not go first thrice
    assert order[3:] == ["a1", "a2", "a3", "a4"]


def test_per_org_limit_lets_others_through():
    scheduler = FairScheduler(limit=4, per_org=2)
    for i in range(10):
        scheduler.add(f"a{i}", "A")
    scheduler.add("b0", "B")
    started = _drain(scheduler)
    assert sorted(job for job, _ in started) == ["a0", "a1", "b0"]
    assert scheduler.running == 3 and len(scheduler) == 8
    scheduler.finished("a0")
    assert scheduler.next_job() == ("a2", "A")
    assert scheduler.next_job() is None  # A at its limit again, B has nothing waiting


def test_global_limit():
    scheduler = FairScheduler(limit=2, per_org=5)
    for org in "ABC":
        scheduler.add(f"{org}1", org)
    assert len(_drain(scheduler)) == 2
    scheduler.finished("A1")
    assert scheduler.next_job() == ("C1", "C")


def test_a_busy_org_never_starves_a_late_one():
    scheduler = FairScheduler(limit=1, per_org=1)
    for i in range(100):
        scheduler.add(f"a{i}", "A")
    first = scheduler.next_job()
    scheduler.add("late", "L")
    scheduler.finished(first[0])
    assert scheduler.next_job() == ("late", "L")


def test_duplicates_discard_and_finished_are_safe():
    scheduler = FairScheduler(limit=3, per_org=3)
    assert scheduler.add("x", "A") and not scheduler.add("x", "A")
    scheduler.add("y", "A")
    scheduler.discard("y")
    scheduler.discard("never-added")
    assert "y" not in scheduler and "x" in scheduler
    assert _drain(scheduler) == [("x", "A")]
    assert not scheduler.add("x", "A")  # running counts as known
    scheduler.finished("x")
    scheduler.finished("x")
    assert scheduler.running == 0 and scheduler.add("x", "A")


def test_limits_must_be_positive():
    with pytest.raises(ValueError):
        FairScheduler(limit=0, per_org=1)


def test_an_org_asking_one_at_a_time_does_not_jump_the_queue():
    scheduler = FairScheduler(limit=1, per_org=1)
    scheduler.add("b0", "B")
    assert scheduler.next_job() == ("b0", "B")
    scheduler.add("b1", "B")
    scheduler.finished("b0")
    scheduler.add("a0", "A")  # A never served: it goes first
    assert scheduler.next_job() == ("a0", "A")
    scheduler.finished("a0")
    scheduler.add("a1", "A")  # A again at once: B has waited longer
    assert scheduler.next_job() == ("b1", "B")
