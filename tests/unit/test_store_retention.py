"""Which daily indices retention considers expired (by the date in the name)."""

from __future__ import annotations

from datetime import UTC, datetime

from bonito_logs.config import Settings
from bonito_logs.store.retention import expired, index_day


def test_expired_by_name_date():
    s = Settings().replace(index_prefix="bl-", retention_days=30)
    now = datetime(2024, 3, 1, 12, tzinfo=UTC)
    names = ["bl-2024.01.30", "bl-2024.01.31", "bl-2024.02.01", "bl-2024.03.01", "bl-2023.12.31",
             "bl-archive-2020.01.01", "bl-2020.02.30", "other-2020.01.01", "bl-2020.01.01x",
             "bl-0001.01.01"]
    assert expired(names, s, now) == ["bl-0001.01.01", "bl-2023.12.31", "bl-2024.01.30"]
    assert index_day("bl-2020.02.30", s) is None
    assert expired(names, s.replace(retention_days=0), now) == [
        "bl-0001.01.01", "bl-2023.12.31", "bl-2024.01.30", "bl-2024.01.31", "bl-2024.02.01"]
    assert expired(names, s, datetime(2024, 3, 1, 12)) == expired(names, s, now)
