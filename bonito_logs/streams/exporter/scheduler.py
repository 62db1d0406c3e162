"""Which export job a worker starts next: bounded, and fair between organisations.

At most ``limit`` jobs run at once, at most ``per_org`` of them for one org, and
among the orgs with a waiting job that may start, the one served least recently
goes first (round-robin; a newcomer counts as never served). So one org's
hundred exports never hold back another org's one. Jobs of one org start in
arrival order.
"""

from __future__ import annotations

from collections import Counter, deque
from itertools import count


class FairScheduler:
    def __init__(self, limit: int, per_org: int) -> None:
        if limit < 1 or per_org < 1:
            raise ValueError("limit and per_org must be at least 1")
        self.limit = limit
        self.per_org = per_org
        self._waiting: dict[str, deque[str]] = {}  # org -> job ids, arrival order
        self._org_of: dict[str, str] = {}  # waiting job id -> org
        self._running: dict[str, str] = {}  # running job id -> org
        self._running_by_org: Counter[str] = Counter()
        self._last_served: dict[str, int] = {}  # org -> tick of its last start
        self._ticks = count()

    def __contains__(self, job_id: str) -> bool:
        return job_id in self._org_of or job_id in self._running

    def __len__(self) -> int:
        return len(self._org_of)

    @property
    def running(self) -> int:
        return len(self._running)

    def add(self, job_id: str, org_id: str) -> bool:
        """Queue a job; False when it is already waiting or running."""
        if job_id in self:
            return False
        self._org_of[job_id] = org_id
        self._waiting.setdefault(org_id, deque()).append(job_id)
        return True

    def next_job(self) -> tuple[str, str] | None:
        """The next (job id, org id) to start, now counted as running; None if none may start."""
        if len(self._running) >= self.limit:
            return None
        eligible = [org for org in self._waiting if self._running_by_org[org] < self.per_org]
        if not eligible:
            return None
        org = min(eligible, key=lambda o: self._last_served.get(o, -1))  # ties: arrival order
        queue = self._waiting[org]
        job_id = queue.popleft()
        if not queue:
            del self._waiting[org]
        del self._org_of[job_id]
        self._running[job_id] = org
        self._running_by_org[org] += 1
        self._last_served[org] = next(self._ticks)
        return job_id, org

    def finished(self, job_id: str) -> None:
        """A started job ended (whatever the outcome): its slot is free again."""
        org = self._running.pop(job_id, None)
        if org is None:
            return
        self._running_by_org[org] -= 1
        if self._running_by_org[org] <= 0:
            del self._running_by_org[org]

    def discard(self, job_id: str) -> None:
        """Forget a waiting job (its partition moved to another worker)."""
        org = self._org_of.pop(job_id, None)
        if org is None:
            return
        queue = self._waiting[org]
        queue.remove(job_id)
        if not queue:
            del self._waiting[org]
