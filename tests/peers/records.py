"""Generated canonical records for connector tests, and exact-size padding for limit edges."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bonito_logs.schemas import ACTIONS, LOG_TYPES, SEVERITIES, build_record


def make_records(n: int, *, org_id: str | None = None, start: datetime | None = None,
                 step: timedelta = timedelta(milliseconds=7), seed: int = 1,
                 log_types: tuple[str, ...] = LOG_TYPES) -> list[dict[str, Any]]:
    """``n`` valid, varied records (every optional field used by some), oldest first."""
    rng = random.Random(seed)
    org_id = org_id or str(uuid.UUID(int=rng.getrandbits(128), version=4))
    start = start or datetime.now(UTC) - step * n
    out = []
    for i in range(n):
        out.append(build_record(
            org_id=org_id,
            log_type=log_types[i % len(log_types)],
            event_type=rng.choice(("request_done", "tool_call", "login", "index_built", "charge")),
            severity=SEVERITIES[i % len(SEVERITIES)],
            timestamp=start + step * i,
            trace_id=f"trace-{i // 10}" if i % 3 else None,
            user_id=f"user-{rng.randrange(50)}" if i % 2 else None,
            resource_id=f"res-{i % 17}" if i % 4 else None,
            resource_type="model" if i % 4 else None,
            action=ACTIONS[i % len(ACTIONS)] if i % 5 else None,
            metadata={"i": i, "tags": ["a", "b"], "nested": {"ok": bool(i % 2)}} if i % 6 else None,
            duration_ms=float(rng.randrange(1, 5000)) if i % 2 else None,
            cost=round(rng.random(), 6) if i % 7 == 0 else None,
            message=f"record {i} ✓ \"quoted\" \\ é" if i % 8 else None,
        ))
    return out


def padded(record: dict[str, Any], size_of: Callable[[dict[str, Any]], int], target: int) -> dict[str, Any]:
    """A copy of ``record`` whose message makes ``size_of(copy) == target`` exactly (ASCII padding)."""
    probe = dict(record, message="x")
    base = size_of(probe)
    if target < base:
        raise ValueError(f"target {target} is below the minimum size {base}")
    out = dict(record, message="x" * (target - base + 1))
    assert size_of(out) == target, (size_of(out), target)
    return out
