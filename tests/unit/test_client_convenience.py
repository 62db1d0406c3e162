"""Convenience methods: every documented field mapping, through the real client."""

from __future__ import annotations

import uuid

import pytest

from bonito_logs.client import LogService, SyncLogService
from bonito_logs.client.convenience import admin_action_for, is_success_status, kb_action_for
from bonito_logs.errors import ValidationError
from tests.unit.test_client_fakes import FakeBroker, unit_settings

ORG = str(uuid.uuid4())
TRACE = "trace-abc"


@pytest.fixture
async def client(tmp_path):
    broker = FakeBroker()
    service = LogService(unit_settings(tmp_path), producer_factory=broker.factory)

    async def sent(coro) -> dict:
        rid = await coro
        assert await service.flush(timeout=5)
        by_id = {r["id"]: r for r in broker.records()}
        return by_id[rid]

    yield service, sent
    await service.close()


async def test_gateway_success(client):
    service, sent = client
    rec = await sent(service.emit_gateway_request(
        org_id=ORG, user_id="u-1", model="gpt-4o", provider="openai", status=200,
        duration_ms=123.4, cost=0.0021, input_tokens=100, output_tokens=20, trace_id=TRACE))
    assert rec["log_type"] == "gateway"
    assert rec["event_type"] == "request"
    assert rec["severity"] == "info"
    assert rec["action"] == "execute"
    assert rec["resource_type"] == "model"
    assert rec["resource_id"] == "gpt-4o"
    assert rec["user_id"] == "u-1"
    assert rec["trace_id"] == TRACE
    assert rec["duration_ms"] == 123.4
    assert rec["cost"] == 0.0021
    assert rec["metadata"] == {"model": "gpt-4o", "provider": "openai", "status": 200,
                               "input_tokens": 100, "output_tokens": 20, "total_tokens": 120}
    assert rec["message"] == "POST gpt-4o via openai → 200 in 123 ms"


@pytest.mark.parametrize("status", [500, 429, 400, "500", "timeout", "error", False])
async def test_gateway_failure_is_an_error_event(client, status):
    service, sent = client
    rec = await sent(service.emit_gateway_request(
        org_id=ORG, user_id=None, model="claude", provider="anthropic", status=status,
        duration_ms=None, cost=None, input_tokens=None, output_tokens=None))
    assert rec["event_type"] == "error"
    assert rec["severity"] == "error"
    assert rec["metadata"]["status"] == status
    assert rec["metadata"]["total_tokens"] is None
    assert rec["message"] == f"POST claude via anthropic → {status}"


@pytest.mark.parametrize("status", [200, 201, 399, "200", "success", "OK", "ok", True, None])
def test_success_statuses(status):
    assert is_success_status(status)


async def test_gateway_metadata_merge_and_overrides(client):
    service, sent = client
    rec = await sent(service.emit_gateway_request(
        ORG, "u-2", "gpt-4o", "openai", "success", 5, 0.5, 7, None,
        metadata={"route": "/v1/chat", "method": "PUT", "model": "ignored"},
        message="custom text", severity="warn", timestamp="2024-05-01T10:00:00Z"))
    assert rec["metadata"]["route"] == "/v1/chat"
    assert rec["metadata"]["model"] == "gpt-4o"  # the mapped keys win
    assert rec["metadata"]["total_tokens"] == 7
    assert rec["message"] == "custom text"
    assert rec["severity"] == "warn"
    assert rec["timestamp"].isoformat() == "2024-05-01T10:00:00+00:00"


async def test_gateway_default_message_uses_method_from_metadata(client):
    service, sent = client
    rec = await sent(service.emit_gateway_request(
        ORG, "u", "m1", "p1", 204, 0.4, 0, 1, 1, metadata={"method": "GET"}))
    assert rec["message"] == "GET m1 via p1 → 204 in 0 ms"


@pytest.mark.parametrize(("success", "severity"), [(True, "info"), (False, "warn")])
async def test_auth_event(client, success, severity):
    service, sent = client
    rec = await sent(service.emit_auth_event(
        org_id=ORG, event_type="login", user_id="user-9", success=success,
        metadata={"ip": "10.0.0.1"}, trace_id=TRACE))
    assert rec["log_type"] == "auth"
    assert rec["event_type"] == "login"
    assert rec["severity"] == severity
    assert rec["action"] is None
    assert rec["resource_type"] == "user"
    assert rec["resource_id"] == "user-9"
    assert rec["user_id"] == "user-9"
    assert rec["metadata"] == {"ip": "10.0.0.1", "success": success}
    assert rec["trace_id"] == TRACE


@pytest.mark.parametrize(("event_type", "action"), [
    ("user_invite", "create"), ("user_create", "create"), ("member_add", "create"),
    ("user_delete", "delete"), ("member_remove", "delete"), ("key_revoke", "delete"),
    ("role_change", "update"), ("user_update", "update"), ("address_change", "update"),
])
async def test_admin_action(client, event_type, action):
    service, sent = client
    rec = await sent(service.emit_admin_action(
        org_id=ORG, admin_user_id="admin-1", event_type=event_type, target_user_id="user-2",
        metadata={"role": "viewer"}))
    assert rec["log_type"] == "admin"
    assert rec["event_type"] == event_type
    assert rec["user_id"] == "admin-1"
    assert rec["resource_type"] == "user"
    assert rec["resource_id"] == "user-2"
    assert rec["action"] == action
    assert rec["severity"] == "info"
    assert rec["metadata"] == {"role": "viewer"}


@pytest.mark.parametrize(("event_type", "action", "severity"), [
    ("search", "search", "info"), ("query", "search", "info"), ("upload", "create", "info"),
    ("ingestion", "create", "info"), ("document_upload", "create", "info"),
    ("delete", "delete", "info"), ("document_delete", "delete", "info"),
    ("view", "read", "info"), ("error", "read", "error"), ("ingestion_failed", "create", "error"),
])
async def test_kb_event(client, event_type, action, severity):
    service, sent = client
    rec = await sent(service.emit_kb_event(
        org_id=ORG, event_type=event_type, user_id="u-3", kb_id="kb-7", duration_ms=12,
        metadata={"query": "refunds"}))
    assert rec["log_type"] == "kb"
    assert rec["resource_type"] == "kb"
    assert rec["resource_id"] == "kb-7"
    assert rec["action"] == action
    assert rec["severity"] == severity
    assert rec["duration_ms"] == 12.0
    assert rec["user_id"] == "u-3"
    assert rec["metadata"] == {"query": "refunds"}


@pytest.mark.parametrize(("event_type", "severity"), [
    ("run_start", "info"), ("tool_call", "info"), ("error", "error"), ("tool_error", "error")])
async def test_agent_event(client, event_type, severity):
    service, sent = client
    rec = await sent(service.emit_agent_event(
        org_id=ORG, event_type=event_type, user_id="u-4", agent_id="agent-1", duration_ms=900,
        cost=0.02, metadata={"steps": 3}, trace_id=TRACE, message="ran"))
    assert rec["log_type"] == "agent"
    assert rec["resource_type"] == "agent"
    assert rec["resource_id"] == "agent-1"
    assert rec["action"] == "execute"
    assert rec["severity"] == severity
    assert rec["duration_ms"] == 900.0
    assert rec["cost"] == 0.02
    assert rec["metadata"] == {"steps": 3}
    assert rec["message"] == "ran"


async def test_convenience_validation_names_the_field(client):
    service, _ = client
    with pytest.raises(ValidationError) as err:
        await service.emit_kb_event(org_id="not-a-uuid", event_type="search", user_id="u", kb_id="k")
    assert err.value.field == "org_id"
    with pytest.raises(ValidationError) as err:
        await service.emit_agent_event(ORG, "run", "u", "a", metadata=["not", "a", "dict"])
    assert err.value.field == "metadata"
    with pytest.raises(TypeError):
        await service.emit_auth_event(ORG, "login", "u", True, log_type="agent")


def test_action_helpers():
    assert admin_action_for("user_invite") == "create"
    assert admin_action_for("user_remove") == "delete"
    assert admin_action_for("settings_change") == "update"
    assert kb_action_for("kb_search") == "search"
    assert kb_action_for("ingestion") == "create"
    assert kb_action_for("open") == "read"


@pytest.mark.parametrize("cls", [LogService, SyncLogService])
def test_docstrings_document_the_mappings(cls):
    docs = {
        "emit_gateway_request": ["gateway", "request", "error", "execute", "model", "total_tokens",
                                 "→"],
        "emit_auth_event": ["auth", "warn", "success", "resource_type", "user"],
        "emit_admin_action": ["admin", "admin_user_id", "target_user_id", "create", "delete",
                              "update", "user_invite"],
        "emit_kb_event": ["kb", "search", "upload", "ingestion", "delete", "read", "error"],
        "emit_agent_event": ["agent", "execute", "agent_id", "error"],
    }
    for method, words in docs.items():
        doc = getattr(cls, method).__doc__
        assert doc, method
        for word in words:
            assert word in doc, (method, word)


def test_sync_convenience_methods_map_the_same(tmp_path):
    broker = FakeBroker()
    with SyncLogService(unit_settings(tmp_path), producer_factory=broker.factory) as service:
        ids = [
            service.emit_gateway_request(ORG, "u", "gpt-4o", "openai", 503, 10, 0.1, 1, 2),
            service.emit_auth_event(ORG, "logout", "u", True),
            service.emit_admin_action(ORG, "admin", "user_invite", "u2"),
            service.emit_kb_event(ORG, "search", "u", "kb-1"),
            service.emit_agent_event(ORG, "error", "u", "ag-1"),
        ]
        assert service.flush(timeout=5)
    by_id = {r["id"]: r for r in broker.records()}
    got = [by_id[i] for i in ids]
    assert [(r["log_type"], r["event_type"], r["severity"], r["action"]) for r in got] == [
        ("gateway", "error", "error", "execute"),
        ("auth", "logout", "info", None),
        ("admin", "user_invite", "info", "create"),
        ("kb", "search", "info", "search"),
        ("agent", "error", "error", "execute"),
    ]
