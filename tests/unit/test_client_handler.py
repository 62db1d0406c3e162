"""BonitoLogHandler: LogRecord → record field mapping; never raises."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import pytest

from bonito_logs.client import BonitoLogHandler, LogService, SyncLogService
from bonito_logs.schemas import MAX_MESSAGE_BYTES
from tests.unit.test_client_fakes import FakeBroker, unit_settings

ORG = str(uuid.uuid4())


class Capture:
    """A stand-in service that keeps the fields it is given."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def emit_nowait(self, **fields):
        self.calls.append(fields)
        return "id"


@pytest.fixture
def captured():
    service = Capture()
    handler = BonitoLogHandler(org_id=ORG, log_type="agent", service=service)
    logger = logging.getLogger(f"test.handler.{uuid.uuid4().hex}")
    logger.setLevel(1)
    logger.propagate = False
    logger.addHandler(handler)
    yield logger, service.calls, handler
    logger.removeHandler(handler)


@pytest.mark.parametrize(("level", "severity"), [
    (logging.DEBUG, "debug"), (logging.INFO, "info"), (logging.WARNING, "warn"),
    (logging.ERROR, "error"), (logging.CRITICAL, "critical"), (25, "info"), (5, "debug"),
])
def test_levels_map_to_severities(captured, level, severity):
    logger, calls, _ = captured
    logger.log(level, "hello %s", "world")
    assert calls[-1]["severity"] == severity
    assert calls[-1]["message"] == "hello world"


def test_fields_from_the_record_and_extra(captured):
    logger, calls, _ = captured
    before = datetime.now(UTC)
    logger.warning("tool %s failed", "search", extra={
        "event_type": "tool_error", "trace_id": "t-1", "user_id": "u-1",
        "metadata": {"tool": "search", "attempt": 2}, "duration_ms": 12.5})
    f = calls[-1]
    assert f["org_id"] == ORG and f["log_type"] == "agent"
    assert f["event_type"] == "tool_error"
    assert f["severity"] == "warn"
    assert f["trace_id"] == "t-1" and f["user_id"] == "u-1"
    assert f["duration_ms"] == 12.5
    assert f["message"] == "tool search failed"
    assert f["metadata"]["tool"] == "search" and f["metadata"]["attempt"] == 2
    assert f["metadata"]["logger"] == logger.name
    assert f["metadata"]["module"] == "test_client_handler"
    assert f["metadata"]["function"] == "test_fields_from_the_record_and_extra"
    assert isinstance(f["metadata"]["line"], int)
    assert "exception" not in f["metadata"]
    assert before <= f["timestamp"] <= datetime.now(UTC)


def test_default_event_type_and_exception_text(captured):
    logger, calls, _ = captured
    try:
        raise KeyError("missing")
    except KeyError:
        logger.exception("lookup failed")
    f = calls[-1]
    assert f["event_type"] == "log"
    assert f["severity"] == "error"
    assert f["message"] == "lookup failed"  # the traceback goes to metadata, not the message
    assert "KeyError: 'missing'" in f["metadata"]["exception"]
    assert "Traceback" in f["metadata"]["exception"]


def test_formatter_is_used_for_the_message(captured):
    logger, calls, handler = captured
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    logger.info("formatted")
    assert calls[-1]["message"] == "[INFO] formatted"


def test_long_messages_are_clipped_to_the_schema_limit(captured):
    logger, calls, _ = captured
    logger.info("é" * MAX_MESSAGE_BYTES)
    assert len(calls[-1]["message"].encode()) <= MAX_MESSAGE_BYTES


def test_own_and_kafka_loggers_are_not_forwarded():
    service = Capture()
    handler = BonitoLogHandler(org_id=ORG, log_type="agent", service=service)
    for name in ("bonito_logs.client", "aiokafka.conn", "app"):
        handler.handle(logging.LogRecord(name, logging.ERROR, __file__, 1, "m", None, None))
    assert [c["metadata"]["logger"] for c in service.calls] == ["app"]


def test_emit_never_raises(tmp_path, monkeypatch):
    errors = []
    handler = BonitoLogHandler(org_id="not-a-uuid", log_type="agent",
                               service=LogService(unit_settings(tmp_path)))
    monkeypatch.setattr(handler, "handleError", lambda record: errors.append(record))
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "m", None, None)
    handler.emit(record)  # invalid org id: ValidationError is swallowed
    assert errors == [record]


def test_through_a_real_sync_service(tmp_path):
    broker = FakeBroker()
    with SyncLogService(unit_settings(tmp_path), producer_factory=broker.factory) as service:
        handler = BonitoLogHandler(org_id=ORG, log_type="deployment", service=service,
                                   event_type="deploy_log")
        logger = logging.getLogger("test.handler.real")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            logger.info("rolled out %d pods", 3, extra={"resource_id": "dep-1"})
            logger.error("rollback", extra={"event_type": "rollback"})
            handler.flush()
        finally:
            logger.removeHandler(handler)
    recs = sorted(broker.records(), key=lambda r: r["timestamp"])
    assert [(r["event_type"], r["severity"], r["message"]) for r in recs] == [
        ("deploy_log", "info", "rolled out 3 pods"), ("rollback", "error", "rollback")]
    assert recs[0]["resource_id"] == "dep-1"
    assert recs[0]["log_type"] == "deployment"
