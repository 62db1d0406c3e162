"""``SyncLogService``: the same client for Flask, Django, scripts and threads.

It runs a ``LogService`` on its own event loop in a daemon thread. ``emit`` (and
the convenience methods) validate and encode in the calling thread, so a
``ValidationError`` raises right there, then hand the bytes over without
blocking. ``flush`` and ``close`` block the caller, never the other threads.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from collections.abc import Callable
from typing import Any

from bonito_logs.client import convenience
from bonito_logs.client.service import ClientStats, LogService, _doc
from bonito_logs.config import Settings


class SyncLogService:
    """Thread-safe, blocking-free ``emit`` backed by a background event loop."""

    def __init__(self, settings: Settings | None = None, *, ensure_topics: bool = False,
                 producer_factory: Callable[[Settings], Any] | None = None) -> None:
        self._service = LogService(settings, ensure_topics=ensure_topics,
                                   producer_factory=producer_factory)
        self._service._autostart = False
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._atexit = False

    @property
    def settings(self) -> Settings:
        return self._service.settings

    @property
    def service(self) -> LogService:
        """The ``LogService`` underneath (it lives on this object's loop)."""
        return self._service

    def start(self) -> None:
        """Start the background loop now (the first emit does it otherwise)."""
        with self._lock:
            if self._thread is not None:
                return
            self._service._setup()  # first, so our atexit hook runs before the service's
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=_run_loop, args=(loop,), daemon=True,
                                      name="bonito-logs-sender")
            thread.start()
            asyncio.run_coroutine_threadsafe(self._service.start(), loop).result()
            self._loop, self._thread = loop, thread
            if not self._atexit:
                self._atexit = True
                atexit.register(_close_at_exit, weakref.ref(self))

    # -- emitting ------------------------------------------------------------------------
    def emit(self, org_id: Any = None, log_type: Any = None, event_type: Any = None,
             severity: Any = None, timestamp: Any = None, trace_id: Any = None,
             user_id: Any = None, resource_id: Any = None, resource_type: Any = None,
             action: Any = None, metadata: Any = None, duration_ms: Any = None,
             cost: Any = None, message: Any = None) -> str:
        """Validate, encode and queue one record from any thread; returns its id.

        Raises ``ValidationError`` in the calling thread. Never blocks on Kafka.
        """
        rid = self._service.emit_nowait(org_id, log_type, event_type, severity, timestamp,
                                        trace_id, user_id, resource_id, resource_type, action,
                                        metadata, duration_ms, cost, message)
        if self._thread is None:
            self.start()
        return rid

    def _emit_fields(self, fields: dict[str, Any]) -> str:
        return self.emit(**fields)

    def emit_gateway_request(self, org_id: Any, user_id: Any, model: Any, provider: Any,
                             status: Any, duration_ms: Any, cost: Any, input_tokens: Any,
                             output_tokens: Any, **common: Any) -> str:
        return self._emit_fields(convenience.gateway_request(
            org_id, user_id, model, provider, status, duration_ms, cost, input_tokens,
            output_tokens, **common))

    def emit_auth_event(self, org_id: Any, event_type: Any, user_id: Any, success: Any,
                        metadata: Any = None, **common: Any) -> str:
        return self._emit_fields(convenience.auth_event(
            org_id, event_type, user_id, success, metadata, **common))

    def emit_admin_action(self, org_id: Any, admin_user_id: Any, event_type: Any,
                          target_user_id: Any, metadata: Any = None, **common: Any) -> str:
        return self._emit_fields(convenience.admin_action(
            org_id, admin_user_id, event_type, target_user_id, metadata, **common))

    def emit_kb_event(self, org_id: Any, event_type: Any, user_id: Any, kb_id: Any,
                      duration_ms: Any = None, metadata: Any = None, **common: Any) -> str:
        return self._emit_fields(convenience.kb_event(
            org_id, event_type, user_id, kb_id, duration_ms, metadata, **common))

    def emit_agent_event(self, org_id: Any, event_type: Any, user_id: Any, agent_id: Any,
                         duration_ms: Any = None, cost: Any = None, metadata: Any = None,
                         **common: Any) -> str:
        return self._emit_fields(convenience.agent_event(
            org_id, event_type, user_id, agent_id, duration_ms, cost, metadata, **common))

    emit_gateway_request.__doc__ = _doc(convenience.gateway_request, "one AI-gateway request")
    emit_auth_event.__doc__ = _doc(convenience.auth_event, "one authentication event")
    emit_admin_action.__doc__ = _doc(convenience.admin_action, "one administrator action")
    emit_kb_event.__doc__ = _doc(convenience.kb_event, "one knowledge-base event")
    emit_agent_event.__doc__ = _doc(convenience.agent_event, "one agent event")

    # -- flush, close, stats -------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Block until Kafka acknowledged everything emitted so far; False on timeout."""
        loop = self._loop
        if loop is None:
            return self._service.stats().buffered == 0
        self._check_not_loop_thread()
        return asyncio.run_coroutine_threadsafe(self._service.flush(timeout), loop).result()

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued (at most ``timeout`` s), spool the rest, stop the thread.

        Emitting again afterwards starts a new thread.
        """
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None:
                self._service._end_session(None)  # records queued before any start
                return
            self._check_not_loop_thread()
            try:
                asyncio.run_coroutine_threadsafe(self._service.close(timeout), loop).result()
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join()
                self._loop = self._thread = None

    def stats(self) -> ClientStats:
        return self._service.stats()

    def _check_not_loop_thread(self) -> None:
        if self._thread is threading.current_thread():
            raise RuntimeError("flush()/close() would deadlock when called from the sender's own thread")

    def __enter__(self) -> SyncLogService:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


def _close_at_exit(ref: weakref.ref) -> None:
    service = ref()
    if service is not None and service._loop is not None:
        service.close()


_default: SyncLogService | None = None
_default_lock = threading.Lock()


def default_sync_service() -> SyncLogService:
    """One process-wide ``SyncLogService`` from ``get_settings()`` (the logging handler's default)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SyncLogService()
        return _default
