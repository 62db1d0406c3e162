"""Day windows of an ordered export: every instant in exactly one window, in the export's order."""

from __future__ import annotations

from datetime import UTC, datetime

from bonito_logs.store.documents import timestamp_us
from bonito_logs.store.query import LogQuery
from bonito_logs.streams.exporter.snapshot import day_windows

PREFIX = "logs-"
NAMES = ["logs-2024.01.03", "logs-2024.01.01", "logs-2024.01.02", "logs-template-x", "other"]


def _us(day: int) -> int:
    return timestamp_us(datetime(2024, 1, day, tzinfo=UTC))


def test_windows_cover_everything_oldest_first():
    assert day_windows(NAMES, PREFIX, LogQuery(sort_order="asc")) == [
        (None, _us(2)), (_us(2), _us(3)), (_us(3), None)]


def test_newest_first_by_default():
    assert day_windows(NAMES, PREFIX, LogQuery()) == [(_us(3), None), (_us(2), _us(3)), (None, _us(2))]


def test_windows_outside_the_dates_are_skipped():
    q = LogQuery(start_date=datetime(2024, 1, 2, 5, tzinfo=UTC),
                 end_date=datetime(2024, 1, 2, 23, tzinfo=UTC), sort_order="asc")
    assert day_windows(NAMES, PREFIX, q) == [(_us(2), _us(3))]


def test_no_daily_index_means_one_unbounded_window():
    assert day_windows(["other"], PREFIX, LogQuery()) == [(None, None)]
    assert day_windows(["logs-2024.01.01"], PREFIX, LogQuery()) == [(None, None)]
