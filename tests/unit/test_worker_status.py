"""The heartbeat document: the indexer's counters always, the aggregator's once it runs here."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from pathlib import Path

from aiokafka import TopicPartition

from bonito_logs.config import Settings
from bonito_logs.streams import aggregator, rollup_buffer
from bonito_logs.streams.aggregator import AggregatorAgent, _Rebalance
from bonito_logs.streams.status import AGGREGATOR_COUNTERS, COUNTERS, WorkerStatus


def test_without_the_aggregator_there_is_no_aggregator_section():
    status = WorkerStatus("w1")
    status.counters["records_indexed"] += 3
    status.observe_bulk(2, 0.1234567)
    status.partitions = [1, 4]
    doc = status.document()
    assert "aggregator" not in doc
    assert doc["worker_id"] == "w1" and doc["partitions"] == [1, 4]
    assert doc["counters"] == {"records_indexed": 3, "bulk_requests": 2, "dlq_records": 0,
                               "retries": 0, "decode_errors": 0, "bulk_seconds_sum": 0.123457}
    assert set(doc["counters"]) == {*COUNTERS, "bulk_seconds_sum"}
    assert datetime.fromisoformat(doc["updated_at"]) >= datetime.fromisoformat(doc["started_at"])


def test_the_aggregator_section_lists_every_counter_and_follows_the_shared_counter():
    status = WorkerStatus("w1")
    counters: Counter[str] = Counter(records_applied=7, conflicts=1)
    status.aggregator = counters
    status.aggregator_partitions = [0, 2]
    doc = status.document()
    assert doc["aggregator"] == {
        "partitions": [0, 2],
        "counters": {"records_seen": 0, "records_applied": 7, "records_already_counted": 0,
                     "records_past_retention": 0, "decode_errors": 0, "documents_read": 0,
                     "documents_written": 0, "documents_rejected": 0, "conflicts": 1,
                     "rewinds": 0, "failures": 0},
    }
    counters["records_applied"] += 5  # the agent keeps counting into the same Counter
    counters["documents_written"] += 9
    again = status.document()["aggregator"]["counters"]
    assert again["records_applied"] == 12 and again["documents_written"] == 9
    assert status.document()["counters"]["decode_errors"] == 0  # the indexer's stay apart


def test_the_aggregator_section_is_plain_ints_even_for_odd_counter_values():
    status = WorkerStatus("w1")
    status.aggregator = Counter({"records_seen": 3.0, "unlisted_name": 4})
    counters = status.document()["aggregator"]["counters"]
    assert counters["records_seen"] == 3 and type(counters["records_seen"]) is int
    assert "unlisted_name" not in counters and list(counters) == list(AGGREGATOR_COUNTERS)


def test_every_counter_the_aggregator_counts_is_reported():
    """A counter added to the agent or the buffer but not to AGGREGATOR_COUNTERS would never
    reach /metrics."""
    used = set()
    for module in (aggregator, rollup_buffer):
        used |= set(re.findall(r'counters\["(\w+)"\]', Path(module.__file__).read_text()))
    assert used == set(AGGREGATOR_COUNTERS)


async def test_the_agent_reports_its_partitions_on_assignment():
    status = WorkerStatus("w1")
    agent = AggregatorAgent(Settings(), status=status)
    try:
        assert status.aggregator is None  # attached by run(), not by construction
        await _Rebalance(agent).on_partitions_assigned({TopicPartition("t", 3), TopicPartition("t", 0)})
        assert status.aggregator_partitions == [0, 3] == agent.partitions
        assert status.partitions == []  # the indexer's are its own
    finally:
        await agent._client.close()
