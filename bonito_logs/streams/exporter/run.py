"""One attempt at one claimed export job: snapshot, write, verify, publish, finish.

The records are read from a point in time (``snapshot``: a consistent snapshot,
in order), the next page fetched while the current one is written (in a thread),
so memory stays at about two pages whatever the export's size. The file is written to a private temporary path and published only when
the row count matches the snapshot's total; anything else ends in a final state
with the temporary file removed. A heartbeat saves progress and renews the lease
every ``exports_progress_s``; it is also how a cancel request is noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import gzip
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from opensearchpy import AsyncOpenSearch

from bonito_logs.config import Settings
from bonito_logs.store import from_document
from bonito_logs.store.export_files import ExportFiles, file_key
from bonito_logs.store.export_request import ExportRequest, parse_export_request
from bonito_logs.store.exports import email_plan, iso, now
from bonito_logs.streams.exporter.lease import CancelRequested, JobLease, LeaseLost
from bonito_logs.streams.exporter.snapshot import Snapshot
from bonito_logs.streams.exporter.writers import open_writer

log = logging.getLogger(__name__)

WRITE_BUFFER = 1024 * 1024


class Outcome(enum.Enum):
    FINAL = "final"  # completed, failed or cancelled, saved
    LOST = "lost"  # someone else owns the job now (or it was deleted); nothing written
    STOPPED = "stopped"  # this worker is stopping; the job was handed back (queued)


class _Cancelled(Exception):
    pass


class _Stopping(Exception):
    pass


class ExportFailed(Exception):
    """The export cannot produce a correct file; the message is the job's error."""


class ExportRun:
    def __init__(self, lease: JobLease, *, client: AsyncOpenSearch, files: ExportFiles,
                 settings: Settings, stopping: asyncio.Event) -> None:
        self.lease = lease
        self.client = client
        self.files = files
        self.settings = settings
        self.stopping = stopping
        self.rows = 0
        self.expected: int | None = None
        self.bytes = 0
        self._lost = False

    @property
    def job_id(self) -> str:
        return self.lease.job.job_id

    async def run(self) -> Outcome:
        job = self.lease.job
        temp = self.files.temp_path(job.job_id, job.attempts)
        self._drop_older_attempts(job.job_id, job.attempts)
        heartbeat = asyncio.create_task(self._heartbeat(), name=f"export-heartbeat-{job.job_id}")
        try:
            request = parse_export_request(job.request)
            await self._write(request, temp)
            if self.rows != self.expected:
                raise ExportFailed(f"wrote {self.rows} rows but the snapshot holds {self.expected}; "
                                   "no file was published")
            key = file_key(job.org_id, job.job_id, request.extension)
            await self.files.publish(temp, key, request.content_type)
            await _stop(heartbeat)
            return await self._complete(request, key)
        except _Cancelled:
            await _stop(heartbeat)
            return await self._end("cancelled", None)
        except _Stopping:
            await _stop(heartbeat)
            with contextlib.suppress(Exception):  # handed back; a clean stop is not a failed attempt
                await self.lease.save(status="queued", started_at=None, rows_written=0,
                                      attempts=max(0, job.attempts - 1))
            return Outcome.STOPPED
        except LeaseLost as exc:
            log.warning("export %s: lease lost (%s); leaving it to its new owner", self.job_id, exc)
            return Outcome.LOST
        except Exception as exc:  # noqa: BLE001 - every failure becomes the job's reason
            await _stop(heartbeat)
            reason = str(exc) if isinstance(exc, ExportFailed) else f"{type(exc).__name__}: {exc}"
            log.warning("export %s failed: %s", self.job_id, reason)
            try:
                return await self._end("failed", reason[:2000])
            except LeaseLost:
                return Outcome.LOST
            except Exception:  # OpenSearch down: the lease expires and someone retries
                log.exception("export %s: could not record the failure", self.job_id)
                return Outcome.LOST
        finally:
            await _stop(heartbeat)
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    # -- phases ---------------------------------------------------------------------------
    async def _write(self, request: ExportRequest, temp: Path) -> None:
        org = self.lease.job.org_id
        indices = await self.client.indices.get(
            index=self.settings.index_pattern, params={"allow_no_indices": "true",
                                                       "ignore_unavailable": "true"})
        raw = await asyncio.to_thread(open, temp, "wb", WRITE_BUFFER)
        try:
            gz = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=5) if request.compress else None
            writer = open_writer(request.export_format, gz or raw, request.columns)  # type: ignore[arg-type]
            if indices:
                await self._copy_snapshot(request, org, list(indices), writer, raw)
            else:
                self.expected = 0
            await asyncio.to_thread(_finish_file, writer, gz, raw)
            self.bytes = raw.tell()
        finally:
            raw.close()

    async def _copy_snapshot(self, request: ExportRequest, org: str, indices: list[str],
                             writer: Any, raw: Any) -> None:
        snapshot = Snapshot(self.client, self.settings, org, request.query,
                            self.settings.exports_page_size)
        try:
            self.expected = await snapshot.open(indices)
            async with contextlib.aclosing(snapshot.pages()) as pages:
                async for hits in pages:
                    self.rows += await asyncio.to_thread(_write_page, writer, hits)
                    self.bytes = raw.tell()
                    self._check()
        finally:
            await snapshot.close()

    def _check(self) -> None:
        if self._lost:
            raise LeaseLost("the heartbeat lost the lease")
        if self.lease.cancel_requested:
            raise _Cancelled
        if self.stopping.is_set():
            raise _Stopping

    async def _complete(self, request: ExportRequest, key: str) -> Outcome:
        job = self.lease.job
        finished = now()
        name = f"bonito-logs-export-{job.job_id}.{request.extension}"
        status, detail = email_plan(job, self.settings)
        try:
            await self.lease.save(
                cancellable=True, status="completed", finished_at=iso(finished),
                rows_written=self.rows, rows_expected=self.expected, bytes_written=self.bytes,
                file_key=key, file_name=name, storage=self.files.storage,
                content_type=request.content_type, email_status=status, email_detail=detail,
                expires_at=iso(finished + timedelta(seconds=self.settings.exports_ttl_s)))
        except CancelRequested:  # asked in the last moment: cancel wins, the file goes
            await self.files.delete(key)
            return await self._end("cancelled", None)
        except LeaseLost:
            await self.files.delete(key)
            raise
        log.info("export %s completed: %d rows, %d bytes", job.job_id, self.rows, self.bytes)
        return Outcome.FINAL

    async def _end(self, status: str, error: str | None) -> Outcome:
        job = self.lease.job
        email_status, detail = email_plan(job, self.settings)
        await self.lease.save(status=status, finished_at=iso(now()), error=error,
                              rows_written=self.rows, rows_expected=self.expected,
                              bytes_written=0, email_status=email_status, email_detail=detail)
        return Outcome.FINAL

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.exports_progress_s)
            try:
                await self.lease.save(rows_written=self.rows, rows_expected=self.expected,
                                      bytes_written=self.bytes)
            except LeaseLost:
                self._lost = True
                return
            except Exception as exc:  # noqa: BLE001 - a hiccup: the next beat tries again
                log.warning("export %s: progress not saved: %s", self.job_id, exc)

    def _drop_older_attempts(self, job_id: str, attempt: int) -> None:
        """Temporary files of this job's earlier attempts (a crashed worker's) go now."""
        for path, other_job, other_attempt in self.files.temp_files():
            if other_job == job_id and other_attempt < attempt:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def _finish_file(writer: Any, gz: gzip.GzipFile | None, raw: Any) -> None:
    writer.close()
    if gz is not None:
        gz.close()
    raw.flush()


def _write_page(writer: Any, hits: list[dict[str, Any]]) -> int:
    return writer.write([from_document(hit["_source"]) for hit in hits])


async def _stop(task: asyncio.Task) -> None:
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
