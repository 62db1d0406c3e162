"""Export file formats: CSV, one JSON array, NDJSON. Pure: records in, bytes out.

Records are the query API's JSON records (``store.from_document``). A writer is
given the columns to keep, in order, and writes page after page to a binary
stream; ``close()`` ends the format (JSON's closing bracket) without closing the
stream.

CSV follows RFC 4180 (the ``csv`` module: comma, ``"`` quoting when needed,
CRLF rows, UTF-8 without BOM) with one header row. Text cells that a spreadsheet
would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
return) get a leading single quote; numeric columns are written as numbers and
never changed. Metadata is one column of compact JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any, BinaryIO, Protocol

import orjson

from bonito_logs.schemas import FIELDS

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMERIC_COLUMNS = frozenset({"duration_ms", "cost"})


def neutralise(text: str) -> str:
    """``text`` made inert for spreadsheets: a leading quote before a formula trigger."""
    if text and text[0] in FORMULA_START:
        return "'" + text
    return text


def _number(value: Any) -> str:
    return "" if value is None else repr(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return neutralise(value if isinstance(value, str) else str(value))


def _json_cell(value: Any) -> str:
    return "" if value is None else neutralise(orjson.dumps(value).decode())


def _cell_converter(column: str) -> Callable[[Any], str]:
    if column in NUMERIC_COLUMNS:
        return _number
    if column == "metadata":
        return _json_cell
    return _text


class ExportWriter(Protocol):
    def write(self, records: Iterable[dict[str, Any]]) -> int: ...

    def close(self) -> None: ...


class CsvWriter:
    """Header row first, then one row per record, cells converted per column."""

    def __init__(self, out: BinaryIO, columns: Sequence[str]) -> None:
        self._text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
        self._csv = csv.writer(self._text)  # excel dialect: RFC 4180 quoting, CRLF
        self._columns = tuple(columns)
        self._cells = [(c, _cell_converter(c)) for c in self._columns]
        self._csv.writerow(self._columns)

    def write(self, records: Iterable[dict[str, Any]]) -> int:
        cells = self._cells
        rows = [[convert(record.get(column)) for column, convert in cells] for record in records]
        self._csv.writerows(rows)
        return len(rows)

    def close(self) -> None:
        self._text.flush()
        self._text.detach()  # leave the binary stream open for the caller


class _JsonLines:
    def __init__(self, out: BinaryIO, columns: Sequence[str]) -> None:
        self._out = out
        self._columns = tuple(columns)
        self._all = self._columns == FIELDS

    def _pick(self, record: dict[str, Any]) -> dict[str, Any]:
        return record if self._all else {c: record.get(c) for c in self._columns}


class NdjsonWriter(_JsonLines):
    """One JSON object per line."""

    def write(self, records: Iterable[dict[str, Any]]) -> int:
        dumps, pick = orjson.dumps, self._pick
        lines = [dumps(pick(r)) for r in records]
        if lines:
            self._out.write(b"\n".join(lines) + b"\n")
        return len(lines)

    def close(self) -> None:
        return None


class JsonArrayWriter(_JsonLines):
    """One JSON array, one record per line inside it."""

    def __init__(self, out: BinaryIO, columns: Sequence[str]) -> None:
        super().__init__(out, columns)
        self._first = True
        out.write(b"[")

    def write(self, records: Iterable[dict[str, Any]]) -> int:
        dumps, pick = orjson.dumps, self._pick
        lines = [dumps(pick(r)) for r in records]
        if lines:
            self._out.write((b"\n" if self._first else b",\n") + b",\n".join(lines))
            self._first = False
        return len(lines)

    def close(self) -> None:
        self._out.write(b"\n]\n")


WRITERS: dict[str, Callable[[BinaryIO, Sequence[str]], ExportWriter]] = {
    "csv": CsvWriter, "json": JsonArrayWriter, "ndjson": NdjsonWriter,
}


def open_writer(export_format: str, out: BinaryIO, columns: Sequence[str]) -> ExportWriter:
    return WRITERS[export_format](out, columns)
