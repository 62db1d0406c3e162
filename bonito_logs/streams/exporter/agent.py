"""The exporter: export requests topic → export jobs run a few at a time, fairly.

A plain aiokafka consumer (like the indexer, and for the same reason: commits
happen only when we say). Each message names a job; the job's state lives in
OpenSearch. The agent looks each job up and then:

- final (or missing): done; its offset may be committed.
- queued, or running under an expired lease (a crashed worker's), or under my
  own name without my running it (my previous life): waits in the fair
  scheduler, then is claimed with a conditional write and run.
- running under another worker's live lease: watched until it ends or its lease
  expires.

Offsets are committed per partition up to the first job not yet final, so a
crash redelivers every unfinished request. A sweep (at start and every half
lease) also finds running jobs with expired leases whose messages were already
taken by others. A housekeeping loop deletes expired files and stray temporary
files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from bonito_logs.config import Settings
from bonito_logs.export_queue import decode_request, ensure_exports_topic
from bonito_logs.store.export_files import ExportFiles
from bonito_logs.store.exports import ExportJob, ExportStore, now
from bonito_logs.streams.consumer import worker_consumer
from bonito_logs.streams.exporter.housekeeping import housekeeping_pass
from bonito_logs.streams.exporter.lease import Claim, JobLease, claim
from bonito_logs.streams.exporter.notify import deliver_pending_email
from bonito_logs.streams.exporter.run import ExportRun, Outcome
from bonito_logs.streams.exporter.scheduler import FairScheduler
from bonito_logs.streams.exporter.snapshot import make_export_client
from bonito_logs.streams.exporter.tracking import TrackedJob, Tracker
from bonito_logs.streams.status import WorkerStatus

log = logging.getLogger(__name__)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, agent: ExporterAgent) -> None:
        self.agent = agent

    async def on_partitions_revoked(self, revoked: Any) -> None:
        if revoked:
            await self.agent._commit()
            self.agent._forget_partitions(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("exporter assigned partitions %s", sorted(tp.partition for tp in assigned))
        self.agent._next_sweep = 0.0  # a good moment to look for abandoned jobs


class ExporterAgent:
    """Runs export jobs; see the module docstring. A worker component (``run``/``stop``)."""

    poll_ms = 250
    watch_s = 1.0
    max_held = 2000  # request messages held before the consumer pauses
    stop_wait_s = 20.0

    def __init__(self, settings: Settings, *, status: WorkerStatus | None = None) -> None:
        self.settings = settings
        self.status = status or WorkerStatus.for_settings(settings)
        self.worker_id = self.status.worker_id
        self.tracker = Tracker()
        self.scheduler = FairScheduler(settings.exports_concurrency, settings.exports_per_org)
        self._runs: dict[str, asyncio.Task] = {}
        self._chores: set[asyncio.Task] = set()
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._client: Any = None
        self.store: ExportStore | None = None
        self.files: ExportFiles | None = None
        self._next_sweep = 0.0
        self._paused = False

    def stop(self) -> None:
        self._stopping.set()

    # -- lifecycle -------------------------------------------------------------------------
    async def run(self) -> None:
        s = self.settings
        self._client = make_export_client(s)
        self.store = ExportStore(self._client, s)
        self.files = ExportFiles.for_settings(s)
        self._consumer = worker_consumer(
            s, group_id=s.exports_group, role="exporter", worker_id=self.worker_id,
            max_poll_records=500,
            session_timeout_ms=10_000, heartbeat_interval_ms=3_000, max_poll_interval_ms=300_000)
        try:
            if not await self._until_ready():
                return
            self._consumer.subscribe([s.exports_topic], listener=_Rebalance(self))
            self._spawn(self._housekeeping_loop(), "export-housekeeping")
            while not self._stopping.is_set():
                try:
                    await self._poll()
                    await self._tick()
                except Exception:  # noqa: BLE001 - a bug here must not stop the other workers
                    log.exception("exporter loop error; going on")
                    await asyncio.sleep(1.0)
        finally:
            await self._shutdown()

    async def _until_ready(self) -> bool:
        """Topic, index and consumer ready, retrying until they are (or we are stopped)."""
        delay = 0.5
        while not self._stopping.is_set():
            try:
                await ensure_exports_topic(self.settings)
                await self.store.ensure_index()
                await self._consumer.start()
                return True
            except Exception as exc:  # noqa: BLE001 - Kafka or OpenSearch not up yet
                log.warning("exporter not ready (%s); retrying in %.1fs", exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(delay * 2, 10.0)
        return False

    async def _shutdown(self) -> None:
        self._stopping.set()
        if self._runs:
            await asyncio.wait(list(self._runs.values()), timeout=self.stop_wait_s)
        for task in list(self._chores) + list(self._runs.values()):
            task.cancel()
        await asyncio.gather(*self._chores, *self._runs.values(), return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._commit()
        for closer in (self._consumer.stop if self._consumer else None,
                       self._client.close if self._client else None,
                       self.files.aclose if self.files else None):
            if closer is not None:
                try:
                    await closer()
                except Exception:  # noqa: BLE001 - shutting down: keep closing the rest
                    log.exception("error while shutting down the exporter")

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    # -- the loop ---------------------------------------------------------------------------
    async def _poll(self) -> None:
        try:
            got = await self._consumer.getmany(timeout_ms=self.poll_ms, max_records=500)
        except KafkaError as exc:
            log.warning("exporter poll failed: %s", exc)
            await asyncio.sleep(1.0)
            return
        for tp, records in got.items():
            for record in records:
                try:
                    job_id, org_id = decode_request(record.value)
                except ValueError as exc:
                    log.warning("skipping unreadable export request at %s:%d: %s",
                                tp, record.offset, exc)
                    job_id = org_id = None
                self.tracker.add_message(tp, record.offset, job_id, org_id)

    async def _tick(self) -> None:
        try:
            await self._inspect()
            self._start_jobs()
            if time.monotonic() >= self._next_sweep:
                self._next_sweep = time.monotonic() + max(1.0, self.settings.exports_lease_s / 2)
                await self._sweep()
        except Exception as exc:  # noqa: BLE001 - OpenSearch hiccup: next tick tries again
            log.warning("exporter tick failed: %s", exc)
            await asyncio.sleep(1.0)
        await self._commit()
        self._flow_control()

    async def _inspect(self) -> None:
        """Look up new jobs and watched jobs that are due, and sort them."""
        moment = time.monotonic()
        due = [job for job in self.tracker.jobs.values()
               if job.state == "new" or (job.state == "watching" and job.check_at <= moment)]
        if not due:
            return
        found = await self.store.find_many([job.job_id for job in due])
        for tracked in due:
            self._classify(tracked, found.get(tracked.job_id))

    def _classify(self, tracked: TrackedJob, job: ExportJob | None) -> None:
        if job is None or job.final:
            if job is not None and job.email_status == "pending":
                self._spawn(deliver_pending_email(self.store, job.job_id, self.settings),
                            f"export-email-{job.job_id}")
            self.tracker.settle(tracked.job_id)
            return
        tracked.org_id = job.org_id
        if tracked.job_id in self._runs:  # a repeated request for a job running here
            tracked.state = "running"
            return
        live_elsewhere = (job.status == "running" and not job.lease_expired()
                          and job.owner != self.worker_id)
        if live_elsewhere:
            tracked.state = "watching"
            tracked.check_at = time.monotonic() + self.watch_s
        else:
            tracked.state = "pending"
            self.scheduler.add(tracked.job_id, job.org_id)

    def _start_jobs(self) -> None:
        while not self._stopping.is_set() and (picked := self.scheduler.next_job()):
            job_id, _ = picked
            tracked = self.tracker.jobs.get(job_id)
            if tracked is not None:
                tracked.state = "running"
            self._runs[job_id] = asyncio.create_task(self._run_job(job_id), name=f"export-{job_id}")

    async def _run_job(self, job_id: str) -> None:
        s = self.settings
        settled = False
        try:
            result = await claim(self.store, job_id, self.worker_id, s.exports_lease_s, mine=True)
            if result.outcome is Claim.CLAIMED:
                lease = JobLease(self.store, result.job, result.version, s.exports_lease_s)
                log.info("export %s: running (attempt %d)", job_id, result.job.attempts)
                outcome = await ExportRun(lease, client=self._client, files=self.files,
                                          settings=s, stopping=self._stopping).run()
                settled = outcome is Outcome.FINAL
                if settled:
                    await deliver_pending_email(self.store, job_id, s)
            else:
                settled = result.outcome in (Claim.FINAL, Claim.MISSING)
        except Exception:  # noqa: BLE001 - look at it again later
            log.exception("export %s: unexpected error", job_id)
        finally:
            self.scheduler.finished(job_id)
            self._runs.pop(job_id, None)
            if settled:
                self.tracker.settle(job_id)
            elif (tracked := self.tracker.jobs.get(job_id)) is not None:
                if tracked.messages or not self._stopping.is_set():
                    tracked.state = "watching"
                    tracked.check_at = time.monotonic() + self.watch_s

    async def _sweep(self) -> None:
        """Running jobs whose lease expired: claim candidates, wherever their message is."""
        for job in await self.store.stale_leases(now()):
            if job.job_id in self._runs:
                continue
            tracked = self.tracker.jobs.get(job.job_id)
            if tracked is None:
                self.tracker.add_job(job.job_id, job.org_id)
            elif tracked.state == "watching":
                tracked.check_at = 0.0

    async def _commit(self) -> None:
        points = self.tracker.commit_points()
        if not points or self._consumer is None:
            return
        try:
            await self._consumer.commit(points)
        except KafkaError as exc:  # rebalanced: the new owner re-reads; final jobs are skipped
            log.warning("exporter commit refused (%s); requests will be re-read", exc)

    def _forget_partitions(self, revoked: set[Any]) -> None:
        for job in self.tracker.revoke(revoked):
            if job.job_id not in self._runs:
                self.scheduler.discard(job.job_id)
                self.tracker.jobs.pop(job.job_id, None)

    def _flow_control(self) -> None:
        held = self.tracker.held()
        assigned = self._consumer.assignment() if self._consumer else set()
        if not self._paused and held > self.max_held and assigned:
            self._consumer.pause(*assigned)
            self._paused = True
        elif self._paused and held <= self.max_held // 2:
            self._consumer.resume(*assigned)
            self._paused = False

    async def _housekeeping_loop(self) -> None:
        while True:
            try:
                await housekeeping_pass(self.store, self.files, running=set(self._runs))
            except Exception as exc:  # noqa: BLE001 - try again next time
                log.warning("export housekeeping failed: %s", exc)
            await asyncio.sleep(self.settings.exports_housekeeping_s)
