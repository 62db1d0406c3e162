"""The outbox: every accepted record, in acceptance order, until Kafka acknowledges it.

Records sit in a bounded in-memory deque; past ``capacity`` they go to the spool.
Order rule: *memory is used only while the spool holds nothing*. Once a record
went to the spool, every later one follows it there until the sender has
drained and deleted the spool, so "memory first, then spool" is always oldest
first, and on close the memory part is written *before* the spool's segments.

``put`` is the emit path: one lock, one append, no I/O except a buffered file
write when spooling. It is safe from any thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from bonito_logs.client.spool import Record, Segment, Spool

log = logging.getLogger("bonito_logs.client")

_TAKE_SLICE = 1024


class Outbox:
    def __init__(self, spool: Spool, *, capacity: int, drop_report_interval_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lock = threading.Lock()
        self.spool = spool
        self.memory: deque[Record] = deque()
        self.capacity = capacity
        self.drop_report_interval_s = drop_report_interval_s
        self.clock = clock
        # Counters (read without the lock for stats: ints are read atomically).
        self.accepted = 0  # records this client queued (memory or spool); flush targets count these
        self.spooled = 0  # records written to the spool, ever
        self.dropped = 0  # records lost to the spool's byte cap (or an unusable spool)
        self.refused = 0  # the part of ``dropped`` refused by put() (never accepted)
        self.settled = 0  # accepted records acknowledged by Kafka or handed to disk at close
        # Set by the sender before it sleeps; the next put clears it and calls notify().
        self.waiting = False
        self.notify: Callable[[], None] = _noop
        self._spool_ok = True
        self._direct = False  # memory may take records: the spool is open (or unusable) and empty
        self._unreported = 0
        self._last_report = float("-inf")

    @property
    def emitted(self) -> int:
        """Valid records handed to put(): accepted or refused."""
        return self.accepted + self.refused

    def _refresh(self) -> None:
        """Recompute the fast-path flag after the spool changed (under the lock)."""
        spool = self.spool
        self._direct = (spool.is_open or not self._spool_ok) and not spool.pending

    # -- the emit path ---------------------------------------------------------------
    def put(self, key: bytes, value: bytes) -> bool:
        """Queue one record; False if it was dropped (spool full or unusable)."""
        report = False
        with self.lock:
            memory = self.memory
            if self._direct and len(memory) < self.capacity:
                memory.append((key, value))
                self.accepted += 1
                ok = True
            else:
                ok, report = self._put_slow(key, value)
            wake = self.waiting
            if wake:
                self.waiting = False
        if wake:
            self.notify()
        if report:
            self.report_drops()
        return ok

    def _put_slow(self, key: bytes, value: bytes) -> tuple[bool, bool]:
        spool = self.spool
        if not spool.is_open:  # first record (or first after a close): open, maybe claim
            if self._spool_ok:
                self._open_spool()
            self._refresh()
            if self._direct and len(self.memory) < self.capacity:
                self.memory.append((key, value))
                self.accepted += 1
                return True, False
        # Here the spool holds records (_direct is False) or memory is full.
        if self._spool_ok and spool.append(key, value):
            self.spooled += 1
            self.accepted += 1
            self._direct = False
            return True, False
        self.dropped += 1
        self.refused += 1
        self._unreported += 1
        return False, self.clock() - self._last_report >= self.drop_report_interval_s

    def _open_spool(self) -> None:
        try:
            self.spool.open()
        except OSError as exc:
            self._spool_ok = False
            log.error("spool %s cannot be used (%s): records past the in-memory buffer "
                      "will be dropped while Kafka is unreachable", self.spool.root, exc)

    def ensure_spool(self) -> None:
        with self.lock:
            if not self.spool.is_open and self._spool_ok:
                self._open_spool()
            self._refresh()

    # -- the sender's side -------------------------------------------------------------
    def take_memory(self, n: int) -> list[Record]:
        """Up to ``n`` of the oldest in-memory records, holding the lock only briefly."""
        with self.lock:
            mem = self.memory
            if len(mem) <= n:  # all of it: swap the deque, copy outside the lock
                self.memory = deque()
                return list(mem)
        out: list[Record] = []
        while len(out) < n:
            with self.lock:  # in slices, so emitting threads never wait long
                mem = self.memory
                k = min(n - len(out), len(mem), _TAKE_SLICE)
                if not k:
                    break
                pop = mem.popleft
                out.extend([pop() for _ in range(k)])
        return out

    def next_segment(self) -> Segment | None:
        with self.lock:
            if not self.spool.is_open:
                return None
            return self.spool.next_segment()

    def release(self, seg: Segment) -> None:
        with self.lock:
            if self.spool.is_open:
                self.spool.release(seg)
                self._refresh()

    def has_work(self) -> bool:
        with self.lock:
            return bool(self.memory) or (self.spool.is_open and self.spool.has_unread())

    def arm_wait(self) -> bool:
        """Mark the sender as sleeping unless there is work; True if it may sleep."""
        with self.lock:
            if self.memory or (self.spool.is_open and self.spool.has_unread()):
                return False
            self.waiting = True
            return True

    def spool_fds_to_sync(self) -> list[int]:
        with self.lock:
            if not self.spool.is_open:
                return []
            return self.spool.flush_buffers()

    def ack(self, n: int) -> None:
        """``n`` of this client's records are settled (acknowledged by Kafka, or lost)."""
        with self.lock:
            self.settled += n

    def claimed_segments(self) -> list[Segment]:
        """Live segments left by earlier clients (a flush also waits for their replay)."""
        with self.lock:
            return self.spool.claimed_live() if self.spool.is_open else []

    # -- end of a sending session ----------------------------------------------------------
    def end_session(self, older: list[Record]) -> tuple[int, int]:
        """Persist what is left and release the spool, without the network.

        ``older`` are records the sender held (in flight, unacknowledged): they and the
        memory go to the spool *before* its segments, so the next client replays
        everything in acceptance order. Every record accepted so far is then settled:
        either acknowledged or durable on disk for the next client. Returns
        (written, dropped).
        """
        with self.lock:
            records = older + list(self.memory)
            self.memory.clear()
            written = dropped = 0
            if records:
                if not self.spool.is_open and self._spool_ok:
                    self._open_spool()
                if self._spool_ok:
                    written, dropped = self.spool.prepend(records)
                else:
                    dropped = len(records)
                self.spooled += written
                self.dropped += dropped
                self._unreported += dropped
            self.settled = self.accepted
            if self.spool.is_open:
                self.spool.close()
            self._refresh()
        if dropped:
            self.report_drops(force=True)
        return written, dropped

    # -- drop reports --------------------------------------------------------------------
    def report_drops(self, *, force: bool = False) -> None:
        """Log the drops not yet reported, at most once per interval (unless forced)."""
        with self.lock:
            n = self._unreported
            now = self.clock()
            if not n or (not force and now - self._last_report < self.drop_report_interval_s):
                return
            self._unreported = 0
            self._last_report = now
            total, used = self.dropped, self.spool.bytes
        log.warning("bonito-logs client dropped %d record(s) (%d in total): Kafka is not taking "
                    "records and the spool %s is full (%d of %d bytes)", n, total,
                    self.spool.root, used, self.spool.max_bytes)


def _noop() -> None:
    pass

