"""The controls of a forwarder: its destination, new settings, stop, revocation, waiting.

``ForwarderControls`` is the ``Host`` a ``Delivery`` runs against: it swaps in new
settings between two requests (``reconfigure``), ends a delivery on a stop or a
revocation (``Stopping``/``Abandoned``), waits in a way any of those cut short, parks
records in the dead-letter topic, and pauses the consumer while the breaker is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from bonito_logs.config import Settings
from bonito_logs.connectors import Batch, CircuitBreaker, Connector, SendResult, create_connector
from bonito_logs.store.integration_filters import RecordFilter
from bonito_logs.store.integrations import Integration
from bonito_logs.streams.forwarding.deadletters import IntegrationDeadLetters
from bonito_logs.streams.forwarding.delivery import Abandoned, Destination, Stopping
from bonito_logs.streams.forwarding.state import ForwarderState

log = logging.getLogger(__name__)


class ForwarderControls:
    def __init__(self, settings: Settings, integration: Integration,
                 credentials: dict[str, Any] | None, *, worker_id: str, state: ForwarderState,
                 problem: str | None = None) -> None:
        self.settings = settings
        self.worker_id = worker_id
        self.state = state
        self.integration = integration
        self.filter = RecordFilter.from_body(integration.filters)
        self.destination: Destination | None = None
        self._problem: str | None = None
        self._pending: tuple[Integration, dict[str, Any] | None, str | None] | None = None
        self._retired: list[Connector] = []
        self._stop = asyncio.Event()
        self._abandon = asyncio.Event()
        self._wake = asyncio.Event()
        self._paused = False
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq = IntegrationDeadLetters(settings, integration.integration_id, worker_id)
        self._settings_in_use: tuple[Any, ...] | None = None
        self._install(integration, credentials, problem)

    # -- configuration -------------------------------------------------------------------
    def reconfigure(self, integration: Integration, credentials: dict[str, Any] | None,
                    problem: str | None = None) -> None:
        """Use these settings from the next request on (the supervisor calls this)."""
        self._pending = (integration, credentials, problem)
        self._wake.set()

    def _install(self, integration: Integration, credentials: dict[str, Any] | None,
                 problem: str | None) -> None:
        same_destination = (self.destination is not None and problem is None
                            and (integration.integration_type, integration.config, credentials)
                            == self._settings_in_use)
        self.integration = integration
        self.filter = RecordFilter.from_body(integration.filters)
        self.state.revision = integration.revision
        if same_destination:  # a new name or filters: keep the connector and the breaker's memory
            self.state.announce()
            return
        self._settings_in_use = (integration.integration_type, integration.config, credentials)
        if self.destination is not None:
            self._retired.append(self.destination.connector)
        self.destination = None
        self._problem = problem
        if problem is None and credentials is not None:
            try:
                connector = create_connector(integration.integration_type, integration.config,
                                             credentials, org_id=integration.org_id,
                                             settings=self.settings)
            except Exception as exc:  # noqa: BLE001 - shown as the integration's error
                self._problem = f"cannot use the integration's settings: {exc}"
            else:
                breaker = CircuitBreaker(self.settings.forward_breaker_threshold,
                                         self.settings.forward_breaker_cooldown_s)
                self.destination = Destination(connector, breaker)
                self.state.breaker = breaker
        if self._problem is not None:
            self.state.failed(self._problem, retry=False)
        self.state.breaker_moved()
        self.state.announce()

    def stop(self) -> None:
        """Stop: a request in flight is cancelled, nothing more is sent or committed."""
        self._stop.set()
        self._wake.set()
        self.state.stopped()  # reported at once

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the Host of a Delivery ----------------------------------------------------------------
    async def checkpoint(self) -> None:
        while True:
            if self._stop.is_set():
                raise Stopping
            if self._abandon.is_set():
                raise Abandoned
            await self._apply_pending()
            if self.destination is not None:
                return
            await self._wait_for_wake(None)  # broken settings: wait for new ones

    async def _apply_pending(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._install(*pending)
            self.resume()
        if self._retired:
            await self._close_retired()

    async def wait(self, seconds: float) -> None:
        await self._wait_for_wake(seconds)
        if self._stop.is_set():
            raise Stopping
        if self._abandon.is_set():
            raise Abandoned

    async def _wait_for_wake(self, seconds: float | None) -> None:
        self._wake.clear()
        if self._stop.is_set() or self._abandon.is_set() or self._pending is not None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def send(self, connector: Connector, batch: Batch) -> SendResult:
        sending = asyncio.ensure_future(connector.send(batch))
        interrupt = asyncio.ensure_future(self._interrupted())
        try:
            await asyncio.wait({sending, interrupt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            interrupt.cancel()
        if not sending.done():
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sending
            raise Stopping if self._stop.is_set() else Abandoned
        return sending.result()

    async def _interrupted(self) -> None:
        while not (self._stop.is_set() or self._abandon.is_set()):
            self._wake.clear()
            if self._stop.is_set() or self._abandon.is_set():
                return
            await self._wake.wait()

    async def dead_letter(self, letters: list[tuple[Any, str, str | None]]) -> None:
        delay = 0.5
        while True:
            try:
                await self._dlq.send_all(letters)
                return
            except KafkaError as exc:
                log.warning("integration %s: dead-letter topic unreachable (%s); retrying in %.1fs",
                            self.integration.integration_id, exc, delay)
                await self.wait(delay)
                delay = min(delay * 2, 10.0)

    def pause(self) -> None:
        if self._consumer is not None and not self._paused:
            self._consumer.pause(*self._consumer.assignment())
            self._paused = True

    def resume(self) -> None:
        if self._consumer is not None and self._paused:
            self._consumer.resume(*self._consumer.assignment())
            self._paused = False

    async def _close_retired(self) -> None:
        retired, self._retired = self._retired, []
        for connector in retired:
            with contextlib.suppress(Exception):
                await connector.close()
