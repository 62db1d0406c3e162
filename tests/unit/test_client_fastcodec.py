"""The client's fast encoder writes exactly what ``schemas.encode`` writes, and fails the same way."""

from __future__ import annotations

import random
import string
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bonito_logs.client.fastcodec import _long, compile_encoder, fast_encode
from bonito_logs.errors import ValidationError
from bonito_logs.schemas import (
    ACTIONS,
    LOG_TYPES,
    MAX_MESSAGE_BYTES,
    SEVERITIES,
    build_record,
    decode,
    encode,
)
from bonito_logs.schemas.codec import current_schema


def test_fast_path_is_active():
    assert fast_encode is not encode


def random_text(rng: random.Random, n: int) -> str:
    alphabet = string.ascii_letters + string.digits + " _-/:." + "éßü✓漢字🙂\u0000\n"
    return "".join(rng.choices(alphabet, k=n))


def random_fields(rng: random.Random) -> dict:
    def maybe(value):
        return value if rng.random() < 0.6 else None

    return {
        "org_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
        if rng.random() < 0.1 else str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "log_type": rng.choice(LOG_TYPES),
        "event_type": rng.choice(["request", "error", "a", "x" * 64, "tool_call_2"]),
        "severity": rng.choice(SEVERITIES),
        "timestamp": rng.choice([
            None,
            datetime(1970, 1, 1, tzinfo=UTC),
            datetime(1, 1, 1, tzinfo=UTC),
            datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2024, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(10**15)),
            "2025-06-01T12:00:00.123456+02:00",
        ]),
        "trace_id": maybe(random_text(rng, rng.choice([1, 63, 64, 65, 127, 128, 256]))),
        "user_id": maybe(random_text(rng, rng.randrange(1, 40))),
        "resource_id": maybe(random_text(rng, rng.randrange(1, 256))),
        "resource_type": maybe(rng.choice(["model", "kb", "agent_tool"])),
        "action": maybe(rng.choice(ACTIONS)),
        "metadata": maybe(rng.choice([{}, {"a": 1}, {"nested": {"x": [1, 2.5, None, True]},
                                                     "text": random_text(rng, 2000)}])),
        "duration_ms": maybe(rng.choice([0, 0.5, 1e-300, 1e300, 123456789.123, 7])),
        "cost": maybe(rng.choice([0.0, 0.0001, 5, 2.5e10])),
        "message": maybe(random_text(rng, rng.choice([0, 1, 1023, 1024, 5000]))),
    }


def test_byte_identical_on_varied_records():
    rng = random.Random(1234)
    for _ in range(1000):
        record = build_record(**random_fields(rng))
        data = fast_encode(record)
        assert data == encode(record)
        assert decode(data) == record


@pytest.mark.parametrize("n", [0, 1, 63, 64, 127, 128, 8191, 8192, 2**31, 2**62, -1, -64, -65,
                               -(2**63)])
def test_varint_matches_avro(n):
    record = build_record(org_id=str(uuid.uuid4()), log_type="kb", event_type="x", severity="info",
                          timestamp=datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=n)
                          if abs(n) < 2**62 else None)
    assert fast_encode(record) == encode(record)
    zigzag = (n << 1) ^ (n >> 63)
    raw = _long(n)
    value, shift = 0, 0
    for byte in raw:
        value |= (byte & 0x7F) << shift
        shift += 7
    assert value == zigzag % 2**64 and raw[-1] < 0x80


def test_errors_are_the_schema_modules():
    org = str(uuid.uuid4())
    base = {"org_id": org, "log_type": "agent", "event_type": "x", "severity": "info"}
    bad_text = build_record(**base, message="lone \ud800 surrogate")
    with pytest.raises(ValidationError) as err:
        fast_encode(bad_text)
    assert err.value.field == "message"
    big_meta = build_record(**base, metadata={"blob": "x" * 70_000})
    with pytest.raises(ValidationError) as err:
        fast_encode(big_meta)
    assert err.value.field == "metadata"
    not_json = build_record(**base, metadata={"when": object()})
    with pytest.raises(ValidationError) as err:
        fast_encode(not_json)
    assert err.value.field == "metadata"
    huge = build_record(**base, message="m" * MAX_MESSAGE_BYTES, metadata={"b": "y" * 60_000},
                        trace_id="t" * 256)
    try:
        expected = encode(huge)
    except ValidationError as exc:
        with pytest.raises(ValidationError) as err:
            fast_encode(huge)
        assert err.value.problems == exc.problems
    else:
        assert fast_encode(huge) == expected


def test_unknown_schema_shapes_are_refused():
    schema = dict(current_schema().json)
    schema["fields"] = [*schema["fields"], {"name": "extra", "type": {"type": "map", "values": "string"}}]
    with pytest.raises(Exception, match="map"):
        compile_encoder(schema, b"", lambda m: None)
