"""Which export request messages a worker holds, and how far it may commit.

A request's offset may be committed only once its job reached a final state, and
a partition's offsets only in order: ``commit_points`` returns, per partition,
the offset after the longest prefix of finished messages. A crash before that
redelivers the messages, and their jobs are picked up again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Message:
    tp: Any  # aiokafka TopicPartition
    offset: int
    job_id: str | None  # None: not a request we can read (committed once reached)
    done: bool = False


@dataclass
class TrackedJob:
    job_id: str
    org_id: str
    messages: list[Message] = field(default_factory=list)
    state: str = "new"  # new -> pending | watching | running -> done
    check_at: float = 0.0  # when a watched job is looked at again (monotonic)


class Tracker:
    def __init__(self) -> None:
        self.partitions: dict[Any, deque[Message]] = {}
        self.jobs: dict[str, TrackedJob] = {}

    def add_message(self, tp: Any, offset: int, job_id: str | None, org_id: str | None) -> TrackedJob | None:
        message = Message(tp, offset, job_id, done=job_id is None)
        self.partitions.setdefault(tp, deque()).append(message)
        if job_id is None or org_id is None:
            return None
        job = self.jobs.get(job_id)
        if job is None:
            job = self.jobs[job_id] = TrackedJob(job_id, org_id)
        job.messages.append(message)
        if job.state == "done":  # a duplicate request for a job already settled here
            message.done = True
        return job

    def add_job(self, job_id: str, org_id: str) -> TrackedJob:
        """A job found without a message (a stale lease found by the sweep)."""
        job = self.jobs.get(job_id)
        if job is None:
            job = self.jobs[job_id] = TrackedJob(job_id, org_id)
        return job

    def settle(self, job_id: str) -> None:
        """The job is final (or gone): its messages may be committed; forget it."""
        job = self.jobs.pop(job_id, None)
        if job is not None:
            for message in job.messages:
                message.done = True

    def commit_points(self) -> dict[Any, int]:
        """Per partition, the next offset to commit (only partitions that advanced)."""
        out = {}
        for tp, messages in self.partitions.items():
            last = None
            while messages and messages[0].done:
                last = messages.popleft().offset
            if last is not None:
                out[tp] = last + 1
        return out

    def revoke(self, tps: set[Any]) -> list[TrackedJob]:
        """Drop the messages of revoked partitions; returns the jobs now without any message
        (the caller forgets those not running: the new owner takes care of them)."""
        for tp in tps:
            self.partitions.pop(tp, None)
        orphans = []
        for job in list(self.jobs.values()):
            had = bool(job.messages)
            job.messages = [m for m in job.messages if m.tp not in tps]
            if had and not job.messages:
                orphans.append(job)
        return orphans

    def in_state(self, state: str) -> list[TrackedJob]:
        return [job for job in self.jobs.values() if job.state == state]

    def held(self) -> int:
        return sum(len(m) for m in self.partitions.values())
