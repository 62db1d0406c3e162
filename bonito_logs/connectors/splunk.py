"""Splunk HTTP Event Collector: concatenated JSON events, ``Authorization: Splunk <token>``.

Splunk answers every request with ``{"text", "code"}``; the code, not only the
HTTP status, says whether to retry (8, 9, 18-20) or give up (1-7, 10-16). When
an event is bad HEC names it (``invalid-event-number``): the events before it
were indexed, so only the ones after it are sent again. With ``use_ack`` a
request counts as delivered only once the indexer acknowledges its ``ackId``.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import orjson

from bonito_logs.config import Settings
from bonito_logs.connectors.base import (
    Batch,
    Batching,
    CheckResult,
    HttpConnector,
    Rejected,
    SendFailed,
    SendResult,
)
from bonito_logs.connectors.encoding import (
    epoch_seconds,
    gzip_bytes,
    pack,
    retry_after_seconds,
)
from bonito_logs.connectors.validation import Problems
from bonito_logs.schemas import record_to_json

DEFAULT_PORT = 8088
MAX_REQUEST_BYTES = 1_000_000
RETRY_CODES = frozenset({8, 9, 18, 19, 20})
PERMANENT_CODES = frozenset({1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16})
#: codes that condemn one event (named by ``invalid-event-number``), not the whole request
EVENT_CODES = frozenset({6, 12, 13, 15})

#: our severity → the ``level`` indexed field (syslog-style names Splunk apps expect)
LEVEL: dict[str, str] = {
    "debug": "DEBUG", "info": "INFO", "warn": "WARNING", "error": "ERROR", "critical": "CRITICAL",
}
_INDEXED = ("org_id", "log_type", "event_type", "severity", "trace_id", "user_id",
            "resource_type", "action")
_TOKEN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_INDEX = re.compile(r"[a-z0-9][a-z0-9_\-]{0,79}\Z")
_CONFIG_KEYS = ("host", "index", "sourcetype", "source", "hostname", "verify_tls", "ca_bundle",
                "use_ack", "ack_timeout_s")


class SplunkConnector(HttpConnector):
    type_name = "splunk"
    envelope = 0
    separator = 1  # events are separated by a newline

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tls_verify = self.config["ca_bundle"] or self.config["verify_tls"]
        self.channel = str(uuid.uuid4())  # one data channel per connector instance

    @classmethod
    def _parse(cls, config: dict[str, Any], credentials: dict[str, Any], problems: Problems,
               settings: Settings) -> dict[str, Any]:
        problems.unknown(config, _CONFIG_KEYS, "config", cls.type_name)
        problems.unknown(credentials, ("hec_token",), "credentials", cls.type_name)
        base_url = _base_url(problems.string(config, "host", "config", max_length=2048), problems)
        index = problems.string(config, "index", "config", required=False, max_length=80)
        if index is not None and not _INDEX.match(index):
            problems.add("config.index", "must be a Splunk index name (lowercase letters, digits, _ "
                                         "and -, not starting with _ or -)")
        sourcetype = problems.string(config, "sourcetype", "config", required=False, max_length=256)
        source = problems.string(config, "source", "config", required=False, max_length=256)
        hostname = problems.string(config, "hostname", "config", required=False, max_length=255)
        verify = problems.boolean(config, "verify_tls", "config", True)
        ca_bundle = problems.string(config, "ca_bundle", "config", required=False, max_length=4096)
        if ca_bundle is not None:
            if not verify:
                problems.add("config.ca_bundle", "cannot be combined with verify_tls: false")
            elif not os.path.isfile(ca_bundle):
                problems.add("config.ca_bundle", "must be the path of a readable PEM file")
        use_ack = problems.boolean(config, "use_ack", "config", False)
        ack_timeout = problems.number(config, "ack_timeout_s", "config", 30.0, low=1, high=600)
        token = credentials.get("hec_token")
        if not token:
            problems.add("credentials.hec_token", "is required")
        elif not isinstance(token, str) or not _TOKEN.match(token):
            problems.add("credentials.hec_token", "must be a HEC token (a GUID like "
                                                  "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
        return {"base_url": base_url, "index": index, "sourcetype": sourcetype or "_json",
                "source": source or "bonito-logs", "hostname": hostname or "bonito-logs",
                "verify_tls": verify, "ca_bundle": ca_bundle, "use_ack": use_ack,
                "ack_timeout_s": ack_timeout}

    @classmethod
    def _destinations(cls, config: dict[str, Any]) -> list[tuple[str, str]]:
        return [(config["base_url"], "config.host")]

    # Encoder + batches ------------------------------------------------------------------
    def encode(self, record: dict[str, Any]) -> dict[str, Any]:
        return encode_event(record, self.config)

    def batches(self, records: list[dict[str, Any]]) -> Batching:
        rejected: list[Rejected] = []
        sized = []
        for i, record in enumerate(records):
            data = orjson.dumps(self.encode(record))
            if len(data) > MAX_REQUEST_BYTES:
                rejected.append(Rejected(record, f"encodes to {len(data)} bytes, over the "
                                                 f"{MAX_REQUEST_BYTES}-byte request limit", i))
                continue
            sized.append((record, data, len(data)))
        return Batching(pack(sized, max_items=100_000, max_bytes=MAX_REQUEST_BYTES, separator=1), rejected)

    def body(self, batch: Batch) -> bytes:
        return b"\n".join(batch.events)

    # Requests ---------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": "Splunk " + self._credentials["hec_token"],
                   "Content-Type": "application/json", "Content-Encoding": "gzip"}
        if self.config["use_ack"]:
            headers["X-Splunk-Request-Channel"] = self.channel
        return headers

    async def _post(self, batch: Batch) -> tuple[int, dict[str, Any], float | None]:
        response = await self.request("POST", self.config["base_url"] + "/services/collector/event",
                                      content=gzip_bytes(self.body(batch)), headers=self._headers())
        return (response.status_code, _json(response),
                retry_after_seconds(response.headers.get("Retry-After")))

    async def _send(self, batch: Batch) -> SendResult:
        rejected: list[Rejected] = []
        offset, requests = 0, 0
        while True:
            status, answer, retry_after = await self._post(batch)
            requests += 1
            code = answer.get("code")
            reason = _reason(status, answer)
            if status == 200 and code in (0, None):
                if self.config["use_ack"] and "ackId" in answer:
                    await self._wait_for_ack(answer["ackId"], reason)
                return SendResult("ok", reason, status=status, code=_code(code),
                                  rejected=tuple(rejected), requests=requests)
            bad = answer.get("invalid-event-number")
            if isinstance(bad, int) and 0 <= bad < len(batch) and code in EVENT_CODES:
                # Splunk indexed the events before ``bad``; drop it, send the rest again.
                rejected.append(Rejected(batch.records[bad], f"{reason} (event {offset + bad})",
                                         offset + bad))
                offset += bad + 1
                batch = self.sized(batch, bad + 1)
                if not batch.records:
                    return SendResult("ok", reason, status=status, code=_code(code),
                                      rejected=tuple(rejected), requests=requests)
                continue
            if status == 413:
                result = await self.send_halves(batch, reason, status)
            else:
                result = classify(status, code, reason, retry_after)
            requests += result.requests - 1
            if not rejected:
                return replace(result, requests=requests)
            # Earlier requests got part of the batch indexed: speak only for what is left.
            if result.outcome == "permanent":
                tail = result.rejected or tuple(Rejected(r, result.reason, offset + i)
                                                for i, r in enumerate(batch.records))
                return SendResult("ok", result.reason, status=result.status, code=result.code,
                                  rejected=tuple(rejected) + tail, requests=requests)
            return replace(result, rejected=tuple(rejected) + result.rejected, requests=requests,
                           pending=(result.pending or batch) if result.outcome == "retry" else None)

    async def _wait_for_ack(self, ack_id: int, reason: str) -> None:
        """Poll ``/services/collector/ack`` until the indexer confirms ``ack_id`` (or time runs out)."""
        deadline = time.monotonic() + self.config["ack_timeout_s"]
        delay = 0.05
        url = self.config["base_url"] + "/services/collector/ack"
        while True:
            response = await self.request("POST", url, params={"channel": self.channel},
                                          content=orjson.dumps({"acks": [ack_id]}),
                                          headers=self._headers() | {"Content-Encoding": "identity"})
            answer = _json(response)
            if response.status_code != 200:
                raise SendFailed(classify(response.status_code, answer.get("code"),
                                          _reason(response.status_code, answer), None))
            if (answer.get("acks") or {}).get(str(ack_id)) is True:
                return
            if time.monotonic() + delay > deadline:
                raise SendFailed(SendResult(
                    "retry", f"Splunk did not acknowledge ackId {ack_id} within "
                             f"{self.config['ack_timeout_s']:g}s (indexer acknowledgement timed out)"))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _check(self) -> CheckResult:
        response = await self.request("GET", self.config["base_url"] + "/services/collector/health")
        answer = _json(response)
        if response.status_code != 200:
            return CheckResult(False, _reason(response.status_code, answer), response.status_code)
        health = answer.get("text", "HEC is healthy")
        test = {"id": None, "org_id": self.org_id, "log_type": "admin", "severity": "info",
                "event_type": "integration_test", "message": "Bonito Logs connection test"}
        event = {"time": round(time.time(), 3), "host": self.config["hostname"],
                 "source": self.config["source"], "sourcetype": self.config["sourcetype"],
                 "event": test, "fields": {"org_id": self.org_id, "event_type": "integration_test"}}
        if self.config["index"]:
            event["index"] = self.config["index"]
        data = orjson.dumps(event)
        result = await self.send(Batch([test], [data], len(data)))
        if result.ok:
            return CheckResult(True, f"{health}; test event accepted", 200)
        return CheckResult(False, result.reason, result.status)


def encode_event(record: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The HEC envelope: metadata keys, the record as ``event``, flat string ``fields``."""
    fields = {name: str(record[name]) for name in _INDEXED if record.get(name) is not None}
    fields["level"] = LEVEL.get(record["severity"], "INFO")
    event = {"time": epoch_seconds(record), "host": config["hostname"], "source": config["source"],
             "sourcetype": config["sourcetype"]}
    if config["index"]:
        event["index"] = config["index"]
    event["event"] = record_to_json(record)
    event["fields"] = fields
    return event


def classify(status: int, code: Any, reason: str, retry_after: float | None) -> SendResult:
    """Splunk's code decides first; the HTTP status when there is no code we know."""
    if code in RETRY_CODES:
        return SendResult("retry", reason, retry_after, status, _code(code))
    if code in PERMANENT_CODES:
        return SendResult("permanent", reason, status=status, code=_code(code))
    if 200 <= status < 300:
        return SendResult("ok", reason, status=status, code=_code(code))
    if status in (408, 429) or status >= 500:
        return SendResult("retry", reason, retry_after, status, _code(code))
    return SendResult("permanent", reason, status=status, code=_code(code))


def _base_url(host: str | None, problems: Problems) -> str:
    if host is None:
        return ""
    text = host if "://" in host else "https://" + host
    try:
        parts = urlsplit(text)
        port = parts.port or DEFAULT_PORT
    except ValueError:
        problems.add("config.host", "must be a URL like https://splunk.example.com:8088")
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.add("config.host", "must be an http(s) URL like https://splunk.example.com:8088")
        return ""
    if parts.query or parts.fragment or parts.username:
        problems.add("config.host", "must not contain credentials, a query or a fragment")
        return ""
    hostname = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{hostname}:{port}{parts.path.rstrip('/')}"


def _json(response: Any) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {"text": (response.text or "").strip()[:300]}
    return value if isinstance(value, dict) else {}


def _reason(status: int, answer: dict[str, Any]) -> str:
    code = answer.get("code")
    where = f" (code {code})" if code is not None else ""
    return f"Splunk answered {status}{where}: {answer.get('text') or 'no reason given'}"


def _code(code: Any) -> str | None:
    return None if code is None else str(code)
