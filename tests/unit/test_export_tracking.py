"""Request offsets are committed only past jobs that reached a final state, in order."""

from __future__ import annotations

from bonito_logs.streams.exporter.tracking import Tracker


def test_commit_stops_at_the_first_unfinished_job():
    tracker = Tracker()
    for offset, job in enumerate(["j0", "j1", "j2"]):
        tracker.add_message("p0", offset, job, "org")
    assert tracker.commit_points() == {}
    tracker.settle("j1")
    assert tracker.commit_points() == {}
    tracker.settle("j0")
    assert tracker.commit_points() == {"p0": 2}
    tracker.settle("j2")
    assert tracker.commit_points() == {"p0": 3}
    assert tracker.commit_points() == {}


def test_unreadable_messages_and_duplicates():
    tracker = Tracker()
    tracker.add_message("p0", 0, None, None)
    tracker.add_message("p0", 1, "j", "org")
    tracker.add_message("p1", 7, "j", "org")  # the same job asked twice
    assert tracker.commit_points() == {"p0": 1}
    tracker.settle("j")
    assert tracker.commit_points() == {"p0": 2, "p1": 8}
    tracker.add_message("p0", 2, "j", "org")  # asked again later: a new job entry
    assert tracker.jobs["j"].state == "new"


def test_revoke_drops_partitions_and_reports_orphans():
    tracker = Tracker()
    tracker.add_message("p0", 0, "a", "org")
    tracker.add_message("p1", 0, "b", "org")
    tracker.add_message("p1", 1, "a", "org")
    tracker.add_job("swept", "org")
    orphans = tracker.revoke({"p1"})
    assert [job.job_id for job in orphans] == ["b"]
    assert set(tracker.partitions) == {"p0"}
    assert [m.tp for m in tracker.jobs["a"].messages] == ["p0"]
    assert tracker.held() == 1
