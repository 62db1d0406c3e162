"""``LogService``: validate, encode and queue a record in microseconds; send it in the background.

``await log_service.emit(...)`` checks the record (``build_record``), Avro-encodes
it and puts ``(org_id, bytes)`` in the outbox; it never awaits anything. A
background task started on the first emit sends it to Kafka (see ``sender``).
When Kafka is slow or down, records wait in memory, then in the spool, and
leave in the order they were accepted once Kafka is back, even across a
restart of the process.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bonito_logs.client import convenience
from bonito_logs.client.buffer import Outbox
from bonito_logs.client.sender import Sender
from bonito_logs.client.spool import Segment, Spool
from bonito_logs.config import Settings, get_settings
from bonito_logs.schemas import build_record, encode

log = logging.getLogger("bonito_logs.client")


@dataclass(frozen=True)
class ClientStats:
    """Counters since the client was created (``sent`` includes records replayed from the spool)."""

    emitted: int  # valid emit calls
    sent: int  # records acknowledged by Kafka
    spooled: int  # records written to the spool
    dropped: int  # records lost because the spool was full
    buffered: int  # records in memory, not yet acknowledged
    spool_bytes: int  # size of the spool segments this client holds
    connected: bool  # the sender has a working producer
    last_error: str | None  # why Kafka did not take records, while it does not

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _doc(builder: Callable[..., Any], what: str) -> str:
    return f"Emit {what}; returns the record id.\n\n{builder.__doc__}"


class LogService:
    """The producer helper: ``emit`` and the convenience methods, ``flush``, ``close``, ``stats``.

    ``settings`` defaults to ``get_settings()`` (read when first needed).
    ``ensure_topics``: create the topics when the sender connects (the CLI uses it).
    ``producer_factory(settings)`` replaces aiokafka's producer (tests).
    Safe to use from one event loop; ``emit_nowait`` is safe from any thread.
    """

    def __init__(self, settings: Settings | None = None, *, ensure_topics: bool = False,
                 producer_factory: Callable[[Settings], Any] | None = None) -> None:
        self._settings = settings
        self._ensure_topics = ensure_topics
        self._producer_factory = producer_factory
        self._outbox: Outbox | None = None
        self._sender: Sender | None = None
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._setup_lock = threading.Lock()
        self._flushes: list[tuple[int, list[Segment], asyncio.Future]] = []
        self._sent_before = 0
        self._autostart = True  # SyncLogService starts the sender on its own loop instead

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings()
        return self._settings

    def _setup(self) -> Outbox:
        with self._setup_lock:
            if self._outbox is None:
                s = self.settings
                spool = Spool(s.spool_path, max_bytes=s.client_spool_max_bytes,
                              segment_bytes=s.client_spool_segment_bytes)
                self._outbox = Outbox(spool, capacity=s.client_buffer_records,
                                      drop_report_interval_s=s.client_drop_report_interval_s)
                atexit.register(_persist_at_exit, weakref.ref(self))
        return self._outbox

    # -- emitting ------------------------------------------------------------------------
    async def emit(self, org_id: Any = None, log_type: Any = None, event_type: Any = None,
                   severity: Any = None, timestamp: Any = None, trace_id: Any = None,
                   user_id: Any = None, resource_id: Any = None, resource_type: Any = None,
                   action: Any = None, metadata: Any = None, duration_ms: Any = None,
                   cost: Any = None, message: Any = None) -> str:
        """Validate, encode and queue one record; returns its id.

        Raises ``ValidationError`` (naming the field and the rule) for a bad record.
        Never waits: there is no I/O here (the ``await`` is only for the API's shape);
        the record leaves in the background. Org id is the Kafka key, so one org's
        records keep their order on one partition.
        """
        return self.emit_nowait(org_id, log_type, event_type, severity, timestamp, trace_id,
                                user_id, resource_id, resource_type, action, metadata,
                                duration_ms, cost, message)

    def emit_nowait(self, org_id: Any = None, log_type: Any = None, event_type: Any = None,
                    severity: Any = None, timestamp: Any = None, trace_id: Any = None,
                    user_id: Any = None, resource_id: Any = None, resource_type: Any = None,
                    action: Any = None, metadata: Any = None, duration_ms: Any = None,
                    cost: Any = None, message: Any = None) -> str:
        """``emit`` as a plain call, safe from any thread; starts the sender if a loop runs here."""
        record = build_record(
            org_id=org_id, log_type=log_type, event_type=event_type, severity=severity,
            timestamp=timestamp, trace_id=trace_id, user_id=user_id, resource_id=resource_id,
            resource_type=resource_type, action=action, metadata=metadata,
            duration_ms=duration_ms, cost=cost, message=message)
        value = encode(record)
        outbox = self._outbox
        if outbox is None:
            outbox = self._setup()
        outbox.put(record["org_id"].encode(), value)
        task = self._task
        if (task is None or task.done()) and self._autostart:
            self._maybe_start()
        return record["id"]

    def _emit_fields(self, fields: dict[str, Any]) -> str:
        return self.emit_nowait(**fields)

    async def emit_gateway_request(self, org_id: Any, user_id: Any, model: Any, provider: Any,
                                   status: Any, duration_ms: Any, cost: Any, input_tokens: Any,
                                   output_tokens: Any, **common: Any) -> str:
        return self._emit_fields(convenience.gateway_request(
            org_id, user_id, model, provider, status, duration_ms, cost, input_tokens,
            output_tokens, **common))

    async def emit_auth_event(self, org_id: Any, event_type: Any, user_id: Any, success: Any,
                              metadata: Any = None, **common: Any) -> str:
        return self._emit_fields(convenience.auth_event(
            org_id, event_type, user_id, success, metadata, **common))

    async def emit_admin_action(self, org_id: Any, admin_user_id: Any, event_type: Any,
                                target_user_id: Any, metadata: Any = None, **common: Any) -> str:
        return self._emit_fields(convenience.admin_action(
            org_id, admin_user_id, event_type, target_user_id, metadata, **common))

    async def emit_kb_event(self, org_id: Any, event_type: Any, user_id: Any, kb_id: Any,
                            duration_ms: Any = None, metadata: Any = None, **common: Any) -> str:
        return self._emit_fields(convenience.kb_event(
            org_id, event_type, user_id, kb_id, duration_ms, metadata, **common))

    async def emit_agent_event(self, org_id: Any, event_type: Any, user_id: Any, agent_id: Any,
                               duration_ms: Any = None, cost: Any = None, metadata: Any = None,
                               **common: Any) -> str:
        return self._emit_fields(convenience.agent_event(
            org_id, event_type, user_id, agent_id, duration_ms, cost, metadata, **common))

    emit_gateway_request.__doc__ = _doc(convenience.gateway_request, "one AI-gateway request")
    emit_auth_event.__doc__ = _doc(convenience.auth_event, "one authentication event")
    emit_admin_action.__doc__ = _doc(convenience.admin_action, "one administrator action")
    emit_kb_event.__doc__ = _doc(convenience.kb_event, "one knowledge-base event")
    emit_agent_event.__doc__ = _doc(convenience.agent_event, "one agent event")

    # -- the sending session ----------------------------------------------------------------
    async def start(self) -> None:
        """Start the background sender now (emit does it lazily); replays any spool left behind."""
        self._setup()
        self._maybe_start()

    def _maybe_start(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop here: records wait until one starts the sender
        task = self._task
        if task is not None and not task.done():
            if self._loop is loop:
                return
            if self._loop is not None and self._loop.is_running():
                raise RuntimeError("this LogService sends from another running event loop; "
                                   "use emit_nowait() from other loops or threads")
            # Its loop stopped without closing us: take over what that session held.
            self._end_session(self._sender)
        self._start_on(loop)

    def _start_on(self, loop: asyncio.AbstractEventLoop) -> None:
        outbox = self._outbox or self._setup()
        outbox.ensure_spool()
        sender = Sender(self.settings, outbox, producer_factory=self._producer_factory,
                        ensure_topics=self._ensure_topics, on_progress=self._check_flushes)
        thread_id = threading.get_ident()

        def notify() -> None:
            if threading.get_ident() == thread_id:
                sender.wake()
            else:
                try:
                    loop.call_soon_threadsafe(sender.wake)
                except RuntimeError:  # that loop is closed; the next start picks records up
                    pass

        self._sender, self._loop = sender, loop
        outbox.notify = notify
        self._task = loop.create_task(self._session(sender), name="bonito-logs-sender")

    async def _session(self, sender: Sender) -> None:
        try:
            await sender.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("bonito-logs sender stopped by an unexpected error")
        finally:
            self._end_session(sender)

    def _end_session(self, sender: Sender | None) -> None:
        outbox = self._outbox
        if outbox is None:
            return
        leftovers: list = []
        if sender is not None:
            self._sent_before += sender.sent
            sender.sent = 0
            leftovers = sender.take_leftovers()
        written, _ = outbox.end_session(leftovers)
        if written:
            log.info("spooled %d record(s) Kafka had not acknowledged to %s; the next client "
                     "started with this spool sends them", written, self.settings.spool_path)
        for _, _, fut in self._flushes:
            if not fut.done():
                fut.set_result(False)

    # -- flush and close ----------------------------------------------------------------------
    def _is_flushed(self, target: int, claimed: list[Segment]) -> bool:
        return self._outbox.settled >= target and all(s not in s.writer.live for s in claimed)

    def _check_flushes(self) -> None:
        for target, claimed, fut in self._flushes:
            if not fut.done() and self._is_flushed(target, claimed):
                fut.set_result(True)

    async def flush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - the API asks for it
        """Wait until Kafka acknowledged every record emitted so far (and any spool replay).

        Returns True when done, False if ``timeout`` seconds passed first (the records
        are still queued, nothing is lost).
        """
        outbox = self._outbox
        if outbox is None:
            return True
        self._maybe_start()
        target = outbox.accepted
        claimed = outbox.claimed_segments()
        if self._is_flushed(target, claimed):
            return True
        fut = asyncio.get_running_loop().create_future()
        entry = (target, claimed, fut)
        self._flushes.append(entry)
        sender = self._sender
        sender.urgent += 1
        sender.wake()
        try:
            await asyncio.wait({fut}, timeout=timeout)
            return fut.done() and fut.result()
        finally:
            sender.urgent -= 1
            self._flushes.remove(entry)

    async def close(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Send what is queued, for at most ``timeout`` s (default ``client_close_timeout_s``).

        Whatever Kafka has not acknowledged by then (all of it, when Kafka is down) is
        written to the spool and sent by the next client that starts with the same
        spool folder. The service can be used again: the next emit starts it anew.
        """
        if timeout is None:
            timeout = self.settings.client_close_timeout_s
        task = self._task
        if task is None or task.done():
            self._end_session(None)  # never started here: still keep what memory holds
            return
        sender = self._sender
        sender.closing = True
        sender.wake()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            await asyncio.wait({task})

    async def __aenter__(self) -> LogService:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def stats(self) -> ClientStats:
        outbox, sender = self._outbox, self._sender
        if outbox is None:
            return ClientStats(0, 0, 0, 0, 0, 0, False, None)
        running = self._task is not None and not self._task.done() and sender is not None
        return ClientStats(
            emitted=outbox.emitted,
            sent=self._sent_before + (sender.sent if sender else 0),
            spooled=outbox.spooled,
            dropped=outbox.dropped,
            buffered=len(outbox.memory) + (sender.in_memory_unacked if running else 0),
            spool_bytes=outbox.spool.bytes,
            connected=bool(running and sender.connected),
            last_error=sender.last_error if running else None,
        )


def _persist_at_exit(ref: weakref.ref) -> None:
    """Interpreter exit without close(): keep what memory holds in the spool (no network)."""
    service = ref()
    if service is None or service._outbox is None:
        return
    try:
        sender = service._sender
        task = service._task
        if task is not None and not task.done() and sender is not None:
            service._end_session(sender)
        else:
            service._outbox.end_session([])
    except Exception:  # exit must go on
        log.exception("could not spool records at exit")
