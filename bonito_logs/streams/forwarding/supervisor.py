"""The forwarding supervisor: one ``Forwarder`` per enabled integration, in every worker.

A worker component (``run``/``stop``). Every ``forward_poll_s`` it reads all
integrations (every org's) and makes this worker match them: a new or re-enabled
integration gets a forwarder, a disabled or deleted one's forwarder is stopped, a
changed one (its ``revision`` grew) is reconfigured in place — new connector, filters
and breaker from the next request on, same consumer — all without restarting the
worker. Every worker runs a forwarder for each integration; the integration's
consumer group spreads the partitions among them.

It also reports each forwarder's state (``store.integration_status``) every
``forward_status_s``, and at once when a forwarder's health changes. A forwarder that
crashed (a bug) is logged and started again after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from bonito_logs.config import Settings
from bonito_logs.crypto import CredentialsError, decrypt_credentials
from bonito_logs.store import make_client
from bonito_logs.store.integration_status import IntegrationStatusStore, status_id
from bonito_logs.store.integrations import Integration, IntegrationStore
from bonito_logs.streams.forwarding.forwarder import Forwarder
from bonito_logs.streams.forwarding.state import ForwarderState
from bonito_logs.streams.status import WorkerStatus

log = logging.getLogger(__name__)

RESTART_AFTER_S = 5.0


@dataclass
class _Running:
    forwarder: Forwarder
    task: asyncio.Task
    revision: int
    deleted: bool = False


class ForwardingSupervisor:
    stop_wait_s = 15.0

    def __init__(self, settings: Settings, *, status: WorkerStatus | None = None) -> None:
        self.settings = settings
        self.worker_id = (status or WorkerStatus.for_settings(settings)).worker_id
        self._stopping = asyncio.Event()
        self._changed = asyncio.Event()
        self._running: dict[str, _Running] = {}
        self._final: list[dict[str, Any]] = []  # status of forwarders that ended, to write once
        self._forget: list[str] = []  # status documents of deleted integrations, to delete
        self._restart_at: dict[str, float] = {}
        self._client: Any = None
        self.store: IntegrationStore | None = None
        self.statuses: IntegrationStatusStore | None = None

    def stop(self) -> None:
        self._stopping.set()

    @property
    def forwarders(self) -> dict[str, Forwarder]:
        return {iid: run.forwarder for iid, run in self._running.items()}

    async def run(self) -> None:
        s = self.settings
        self._client = make_client(s)
        self.store = IntegrationStore(self._client, s)
        self.statuses = IntegrationStatusStore(self._client, s)
        reporter = asyncio.create_task(self._report_loop(), name="forwarding-status")
        try:
            while not self._stopping.is_set():
                try:
                    listed = await self.store.list_all()
                except Exception as exc:  # noqa: BLE001 - OpenSearch down: keep what runs
                    log.warning("cannot read integrations (%s); forwarders keep their settings", exc)
                else:
                    await self._apply([integration for integration, _ in listed])
                self._reap()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=s.forward_poll_s)
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
            await self._shutdown()

    async def _report_loop(self) -> None:
        """Status every ``forward_status_s``, and at once when a forwarder's health changed."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=self.settings.forward_status_s)
            self._changed.clear()
            self._reap()
            await self._report()

    # -- making this worker match the integrations -------------------------------------------
    async def _apply(self, integrations: list[Integration]) -> None:
        by_id = {i.integration_id: i for i in integrations}
        for iid, run in self._running.items():
            integration = by_id.get(iid)
            if integration is None or not integration.enabled:
                run.deleted = integration is None
                run.forwarder.stop()
            elif integration.revision != run.revision:
                credentials, problem = self._credentials(integration)
                run.forwarder.reconfigure(integration, credentials, problem)
                run.revision = integration.revision
                self._changed.set()
                log.info("integration %s: reconfigured (revision %d)", iid, integration.revision)
        for integration in integrations:
            iid = integration.integration_id
            if (integration.enabled and iid not in self._running
                    and self._restart_at.get(iid, 0.0) <= time.monotonic()):
                await self._start(integration)

    async def _start(self, integration: Integration) -> None:
        iid = integration.integration_id
        state = ForwarderState(iid, integration.org_id, self.worker_id, integration.revision,
                               on_change=self._changed.set)
        try:
            state.resume_from(await self.statuses.get(iid, self.worker_id))
        except Exception as exc:  # noqa: BLE001 - counters start at zero then
            log.debug("no earlier status of integration %s: %s", iid, exc)
        credentials, problem = self._credentials(integration)
        forwarder = Forwarder(self.settings, integration, credentials, worker_id=self.worker_id,
                              state=state, problem=problem)
        task = asyncio.create_task(forwarder.run(), name=f"forwarder-{iid}")
        task.add_done_callback(lambda _: self._changed.set())
        self._running[iid] = _Running(forwarder, task, integration.revision)
        self._changed.set()
        log.info("integration %s (%s, org %s): forwarder started", iid,
                 integration.integration_type, integration.org_id)

    def _credentials(self, integration: Integration) -> tuple[dict[str, Any] | None, str | None]:
        try:
            return decrypt_credentials(integration.credentials, self.settings), None
        except CredentialsError as exc:
            return None, str(exc)

    def _reap(self) -> None:
        for iid, run in list(self._running.items()):
            if not run.task.done():
                continue
            del self._running[iid]
            crashed = None if run.task.cancelled() else run.task.exception()
            if crashed is not None or not run.forwarder.stopping:
                log.error("integration %s: forwarder ended unexpectedly; restarting it in %.0fs",
                          iid, RESTART_AFTER_S, exc_info=crashed)
                self._restart_at[iid] = time.monotonic() + RESTART_AFTER_S
            else:
                log.info("integration %s: forwarder stopped", iid)
            if run.deleted:
                self._forget.append(iid)
            else:
                self._final.append(run.forwarder.state.document())

    # -- reporting -----------------------------------------------------------------------------
    async def _report(self) -> None:
        docs = [run.forwarder.state.document() for run in self._running.values()] + self._final
        try:
            await self.statuses.write(docs)
            self._final = []
            for iid in self._forget:
                await self._client.delete(index=self.statuses.index, id=status_id(iid, self.worker_id),
                                          ignore=[404])
            self._forget = []
        except Exception as exc:  # noqa: BLE001 - reported again at the next turn
            log.warning("integration status not written: %s", exc)

    async def _shutdown(self) -> None:
        for run in self._running.values():
            run.forwarder.stop()
        tasks = [run.task for run in self._running.values()]
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=self.stop_wait_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._reap()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._report(), timeout=5)
        if self._client is not None:
            await self._client.close()
