"""The export file formats: CSV quoting, formula neutralisation, column order, subsets; JSON."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bonito_logs.schemas import FIELDS
from bonito_logs.streams.exporter.writers import (
    CsvWriter,
    JsonArrayWriter,
    NdjsonWriter,
    neutralise,
    open_writer,
)


def _record(**over):
    record = {name: None for name in FIELDS}
    record.update(id="r1", org_id="o1", log_type="gateway", event_type="request", severity="info",
                  timestamp="2024-01-02T03:04:05.000006Z")
    record.update(over)
    return record


def _csv(records, columns=FIELDS, pages=1):
    out = io.BytesIO()
    writer = CsvWriter(out, columns)
    size = max(1, len(records) // pages)
    for i in range(0, len(records), size):
        writer.write(records[i:i + size])
    writer.close()
    return out.getvalue()


@pytest.mark.parametrize("text, expected", [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), ("", ""), ("a=b", "a=b"),
    ("'quoted", "'quoted"), (" =x", " =x"),
])
def test_neutralise(text, expected):
    assert neutralise(text) == expected


def test_header_then_rows_in_schema_order_with_crlf():
    data = _csv([_record(message="hello")])
    assert data.startswith(b"id,org_id,log_type,event_type,severity,timestamp,")
    assert data.count(b"\r\n") == 2 and data.endswith(b"\r\n")
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert rows[0] == list(FIELDS)
    assert rows[1][FIELDS.index("message")] == "hello"


def test_rfc4180_quoting_round_trips_text():
    messages = ['comma, here', 'quote " here', "new\nline", "cr\r\nlf", "naïve 🚀 日本語", "tab\tinside"]
    data = _csv([_record(id=str(i), message=m) for i, m in enumerate(messages)])
    assert b'"quote "" here"' in data  # doubled quote inside a quoted cell
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert [row[FIELDS.index("message")] for row in rows[1:]] == messages


def test_text_cells_neutralised_numbers_and_json_not():
    record = _record(message="=HYPERLINK(\"http://x\")", user_id="-5", trace_id="+t", action="@a",
                     duration_ms=1.5, cost=1e-05, metadata={"f": "=x", "n": -1})
    row = list(csv.reader(io.StringIO(_csv([record]).decode(), newline="")))[1]
    cell = dict(zip(FIELDS, row, strict=True))
    assert cell["message"] == "'=HYPERLINK(\"http://x\")"
    assert cell["user_id"] == "'-5" and cell["trace_id"] == "'+t" and cell["action"] == "'@a"
    assert float(cell["duration_ms"]) == 1.5 and float(cell["cost"]) == 1e-05
    assert json.loads(cell["metadata"]) == {"f": "=x", "n": -1}
    assert cell["metadata"] == '{"f":"=x","n":-1}'  # compact
    assert cell["resource_id"] == ""  # null is an empty cell


def test_numeric_columns_keep_negative_numbers():
    row = list(csv.reader(io.StringIO(_csv([_record(duration_ms=-1.5)]).decode(), newline="")))[1]
    assert row[FIELDS.index("duration_ms")] == "-1.5"


def test_fields_subset_in_the_given_order_and_pages_append():
    columns = ("message", "timestamp", "id")
    records = [_record(id=f"r{i}", message=f"m{i}") for i in range(10)]
    rows = list(csv.reader(io.StringIO(_csv(records, columns, pages=3).decode(), newline="")))
    assert rows[0] == list(columns)
    assert rows[1:] == [[f"m{i}", "2024-01-02T03:04:05.000006Z", f"r{i}"] for i in range(10)]


def test_csv_writer_leaves_the_stream_open():
    out = io.BytesIO()
    writer = CsvWriter(out, ("id",))
    writer.close()
    assert not out.closed and out.getvalue() == b"id\r\n"


@pytest.mark.parametrize("pages", [0, 1, 3])
def test_json_array_parses_to_the_records(pages):
    records = [_record(id=f"r{i}", metadata={"i": i}) for i in range(6)] if pages else []
    out = io.BytesIO()
    writer = JsonArrayWriter(out, FIELDS)
    for i in range(pages):
        writer.write(records[i * 6 // pages:(i + 1) * 6 // pages])
    writer.close()
    assert json.loads(out.getvalue()) == records


def test_ndjson_lines_and_subset():
    out = io.BytesIO()
    writer = open_writer("ndjson", out, ("severity", "id"))
    assert isinstance(writer, NdjsonWriter)
    writer.write([_record(id="a"), _record(id="b", severity="error")])
    writer.write([])
    writer.close()
    lines = out.getvalue().decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"severity": "info", "id": "a"},
                                                     {"severity": "error", "id": "b"}]
    assert list(json.loads(lines[0])) == ["severity", "id"]
