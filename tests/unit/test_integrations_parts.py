"""Integrations without services: filters, request bodies, the state the API shows, the
forwarder's record selection, the forwarder's state, and the shared Kafka names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from bonito_logs import forward_topics
from bonito_logs.api.integration_body import parse_create, parse_patch
from bonito_logs.api.integration_view import state_of
from bonito_logs.config import Settings
from bonito_logs.connectors import CircuitBreaker
from bonito_logs.errors import ValidationError
from bonito_logs.schemas import build_record, encode
from bonito_logs.store.integration_filters import RecordFilter, parse_filters
from bonito_logs.store.integrations import Integration
from bonito_logs.streams import dlq
from bonito_logs.streams.forwarding import Forwarder, ForwarderState

ORG = "5b0e4a63-9f0c-4b5e-8d4e-3f3a2f7c1a10"
OTHER = "0c8e4a63-9f0c-4b5e-8d4e-3f3a2f7c1a11"
SETTINGS = Settings(allow_private_destinations=False)


def record(org: str = ORG, **over):
    fields = dict(org_id=org, log_type="gateway", event_type="request", severity="info")
    fields.update(over)
    return build_record(**fields)


def test_filters_normalise_and_match():
    problems: list[dict[str, str]] = []
    filters = parse_filters({"log_types": ["kb", "gateway", "kb"], "severities": [], "event_types": None},
                            problems)
    assert problems == []
    assert filters == {"log_types": ["gateway", "kb"], "severities": None, "event_types": None}
    keep = RecordFilter.from_body(filters)
    assert keep.matches(record()) and not keep.matches(record(log_type="auth"))
    assert RecordFilter.from_body(None).matches(record(severity="debug"))
    only = RecordFilter.from_body({"severities": ["error"], "event_types": ["login"]})
    assert only.matches(record(severity="error", event_type="login"))
    assert not only.matches(record(severity="error", event_type="request"))


def test_filter_problems_are_named():
    problems: list[dict[str, str]] = []
    parse_filters({"log_types": ["nope"], "severities": "error", "event_types": ["Bad Type"], "x": 1},
                  problems)
    assert {p["field"] for p in problems} == {"filters.log_types[0]", "filters.severities",
                                              "filters.event_types[0]", "filters.x"}


async def test_create_body_is_checked_with_the_connectors_rules_and_the_ssrf_guard():
    body = {"name": "hook", "integration_type": "webhook",
            "config": {"url": "http://169.254.169.254/latest"}, "credentials": {"secret": "s" * 20}}
    with pytest.raises(ValidationError) as caught:
        await parse_create(body, SETTINGS)
    (problem,) = caught.value.problems
    assert problem["field"] == "config.url" and "metadata" in problem["rule"]
    ok = await parse_create({**body, "config": {"url": "http://127.0.0.1/x"}},
                            SETTINGS.replace(allow_private_destinations=True))
    assert ok.enabled is True and ok.filters["log_types"] is None


async def test_create_body_refuses_unknown_keys_before_anything_else():
    with pytest.raises(ValidationError) as caught:
        await parse_create({"name": "", "org_id": "x"}, SETTINGS)
    assert caught.value.problems == [{"field": "org_id", "rule": "is not a known field"}]


def test_patch_body():
    assert parse_patch({"enabled": False, "name": " new "}) == {"enabled": False, "name": "new"}
    with pytest.raises(ValidationError) as caught:
        parse_patch({"integration_type": "splunk"})
    assert caught.value.field == "integration_type"
    with pytest.raises(ValidationError):
        parse_patch({})
    with pytest.raises(ValidationError) as caught:
        parse_patch({"config": [], "enabled": 1})
    assert {p["field"] for p in caught.value.problems} == {"config", "enabled"}


def integration(**over) -> Integration:
    values = dict(integration_id="6f1b8a3e-3a43-4f6e-9c11-9f1f1f1f1f1f", org_id=ORG, name="n",
                  integration_type="webhook", config={"url": "http://127.0.0.1/x"}, credentials="tok",
                  credentials_masked={"secret": "****"}, filters={"severities": ["error"]},
                  created_at="2026-01-01T00:00:00.000Z", start_offsets={"0": 5})
    values.update(over)
    return Integration(**values)


def report(health: str, *, worker: str = "w1", age_s: float = 1.0, running: bool = True, **over):
    now = datetime.now(UTC)
    doc = {"worker_id": worker, "health": health, "running": running, "revision": 3,
           "updated_at": (now - timedelta(seconds=age_s)).isoformat(), "records_forwarded": 10,
           "records_dead_lettered": 1, "breaker": {"state": "open" if health == "circuit_open" else "closed"}}
    doc.update(over)
    return doc


def test_state_takes_the_worst_live_health_and_sums_every_report():
    numbers = {"consumer_lag": 7, "records_in_dlq": 2, "replay_pending": 0}
    state = state_of(integration(), [report("ok"), report("circuit_open", worker="w2"),
                                     report("failing", worker="dead", age_s=600)], numbers, SETTINGS)
    assert state["health"] == "circuit_open" and state["circuit"]["state"] == "open"
    assert state["records_forwarded"] == 30 and state["records_dead_lettered"] == 3
    assert state["consumer_lag"] == 7 and state["records_in_dlq"] == 2
    assert [w["worker_id"] for w in state["workers"]] == ["w1", "w2"]
    assert state_of(integration(), [report("failing", age_s=600)], numbers, SETTINGS)["health"] == "pending"
    assert state_of(integration(enabled=False), [report("ok")], numbers, SETTINGS)["health"] == "disabled"
    failing = state_of(integration(), [report("failing", last_error="Invalid token",
                                              last_error_at="2026-01-01T00:00:01Z")], numbers, SETTINGS)
    assert failing["health"] == "failing"
    assert failing["last_error"] == {"at": "2026-01-01T00:00:01Z", "reason": "Invalid token"}


def test_forwarder_state_health_follows_events_and_breaker():
    changes = []
    state = ForwarderState("i", ORG, "w", 1, on_change=lambda: changes.append(state.health))
    now = [0.0]
    state.breaker = CircuitBreaker(2, 10.0, clock=lambda: now[0])
    assert state.health == "ok"
    state.failed("503", retry=True)
    assert state.health == "failing"
    state.breaker.record_failure()
    state.breaker.record_failure()
    state.breaker_moved()
    assert state.health == "circuit_open"
    state.breaker.record_success()
    state.delivered(5)
    assert state.health == "ok" and changes == ["failing", "circuit_open", "ok"]
    doc = state.document()
    assert doc["records_forwarded"] == 5 and doc["retries"] == 1 and doc["last_error"] == "503"
    later = ForwarderState("i", ORG, "w", 2)
    later.resume_from(doc)
    assert later.counters["records_forwarded"] == 5 and later.health == "ok"


def consumer_record(rec: dict | None, *, key: bytes | None = None, topic: str = "logs", value: bytes | None = None):
    return SimpleNamespace(topic=topic, partition=0, offset=0, key=key, headers=[],
                           value=value if value is not None else encode(rec))


def test_forwarder_selects_its_orgs_matching_records_and_replays_unfiltered():
    s = SETTINGS.replace(logs_topic="logs", allow_private_destinations=True)
    integ = integration()
    state = ForwarderState(integ.integration_id, ORG, "w", 1)
    fwd = Forwarder(s, integ, {"secret": "s" * 20}, worker_id="w", state=state)
    mine_error = record(severity="error")
    mine_info = record(severity="info")
    theirs = record(OTHER, severity="error")
    keyless = record(severity="error")
    liar = record(OTHER, severity="error")
    picked = fwd._select([
        consumer_record(mine_error, key=ORG.encode()),
        consumer_record(mine_info, key=ORG.encode()),  # filtered out
        consumer_record(theirs, key=OTHER.encode()),  # skipped without decoding
        consumer_record(keyless),  # no key: decoded, kept
        consumer_record(liar, key=ORG.encode()),  # keyed as ours, decoded org says otherwise
        consumer_record(None, key=ORG.encode(), value=b"garbage"),
        consumer_record(mine_info, key=ORG.encode(), topic=fwd.replay_topic),  # replayed: unfiltered
    ])
    assert [(i.record["id"], i.replayed) for i in picked] == [
        (mine_error["id"], False), (keyless["id"], False), (mine_info["id"], True)]
    assert state.counters["decode_errors"] == 1


def test_a_forwarder_with_unusable_settings_reports_why():
    integ = integration(config={"url": "ftp://nowhere"})
    state = ForwarderState(integ.integration_id, ORG, "w", 1)
    fwd = Forwarder(SETTINGS, integ, {"secret": "s" * 20}, worker_id="w", state=state)
    assert fwd.destination is None and state.health == "failing"
    assert "config.url" in state.last_error
    broken = ForwarderState(integ.integration_id, ORG, "w", 1)
    Forwarder(SETTINGS, integration(), None, worker_id="w", state=broken, problem="cannot decrypt")
    assert broken.last_error == "cannot decrypt"


def test_kafka_names_and_dead_letter_headers_agree_with_the_indexers():
    s = SETTINGS.replace(forward_prefix="p.")
    assert forward_topics.group_id(s, "x") == "p.x"
    assert forward_topics.dlq_topic(s, "x") == "p.x.dlq"
    assert forward_topics.replay_topic(s, "x") == "p.x.replay"
    assert forward_topics.replayed_group(s, "x") == "p.x.dlq-replayed"
    assert (forward_topics.REASON, forward_topics.SOURCE_TOPIC, forward_topics.SOURCE_PARTITION,
            forward_topics.SOURCE_OFFSET, forward_topics.WORKER, forward_topics.FAILED_AT) == (
        dlq.REASON, dlq.TOPIC, dlq.PARTITION, dlq.OFFSET, dlq.WORKER, dlq.FAILED_AT)


async def test_new_filters_keep_the_connector_and_breaker_new_credentials_replace_them():
    s = SETTINGS.replace(allow_private_destinations=True)
    integ = integration()
    state = ForwarderState(integ.integration_id, ORG, "w", 1)
    fwd = Forwarder(s, integ, {"secret": "s" * 20}, worker_id="w", state=state)
    first = fwd.destination
    first.breaker.record_failure()
    fwd.reconfigure(integration(revision=2, filters={}), {"secret": "s" * 20})
    await fwd._apply_pending()
    assert fwd.destination is first and first.breaker.failures == 1
    assert state.revision == 2 and fwd.filter.matches(record(severity="info"))
    fwd.reconfigure(integration(revision=3, filters={}), {"secret": "t" * 20})
    await fwd._apply_pending()
    assert fwd.destination is not first and fwd.destination.breaker.failures == 0
    assert state.revision == 3
