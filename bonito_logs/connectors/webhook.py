"""Generic webhook: a signed POST of a JSON array of records (``record_to_json`` shape).

Signature: ``X-Bonito-Signature: sha256=<hex>``, the HMAC-SHA256 under the
integration's secret of ``<X-Bonito-Timestamp> + "." + <body bytes as sent>``
(after gzip when ``gzip`` is on). Binding the timestamp lets receivers refuse
replays older than a few minutes. ``X-Bonito-Delivery`` is the same for every
retry of the same records, so receivers can drop duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
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
    SendResult,
    classify_status,
)
from bonito_logs.connectors.encoding import (
    gzip_bytes,
    pack,
    retry_after_seconds,
)
from bonito_logs.connectors.validation import Problems
from bonito_logs.schemas import FIELDS, format_timestamp, record_to_json

MAX_RECORDS = 1_000
MAX_BODY_BYTES = 1_048_576
MIN_SECRET_LENGTH = 16
SIGNATURE_HEADER = "X-Bonito-Signature"
TIMESTAMP_HEADER = "X-Bonito-Timestamp"
DELIVERY_HEADER = "X-Bonito-Delivery"
RESERVED_HEADERS = frozenset({
    "host", "content-length", "content-type", "content-encoding", "transfer-encoding",
    "connection", "te", "upgrade", "expect", SIGNATURE_HEADER.lower(), TIMESTAMP_HEADER.lower(),
    DELIVERY_HEADER.lower(),
})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}\Z")
_CONFIG_KEYS = ("url", "headers", "gzip")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Bonito-Signature`` value for ``body`` sent at ``timestamp`` (epoch seconds)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def delivery_id(batch: Batch) -> str:
    """Stable across retries of the same records: a hash of their ids."""
    ids = "\n".join(str(r.get("id")) for r in batch.records).encode()
    return hashlib.sha256(ids).hexdigest()[:32]


class WebhookConnector(HttpConnector):
    type_name = "webhook"

    @classmethod
    def _parse(cls, config: dict[str, Any], credentials: dict[str, Any], problems: Problems,
               settings: Settings) -> dict[str, Any]:
        problems.unknown(config, _CONFIG_KEYS, "config", cls.type_name)
        problems.unknown(credentials, ("secret",), "credentials", cls.type_name)
        url = problems.string(config, "url", "config", max_length=2048)
        if url is not None:
            try:
                parts = urlsplit(url)
                parts.port  # noqa: B018 - raises on a bad port
            except ValueError:
                parts = None
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                problems.add("config.url", "must be an http(s) URL")
            elif parts.username or parts.password:
                problems.add("config.url", "must not contain credentials (use headers or the secret)")
        headers = _headers(config.get("headers", {}), problems)
        use_gzip = problems.boolean(config, "gzip", "config", False)
        secret = credentials.get("secret")
        if not secret:
            problems.add("credentials.secret", "is required")
        elif not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            problems.add("credentials.secret", f"must be a string of at least {MIN_SECRET_LENGTH} characters")
        return {"url": url, "headers": headers, "gzip": use_gzip}

    @classmethod
    def _destinations(cls, config: dict[str, Any]) -> list[tuple[str, str]]:
        return [(config["url"], "config.url")]

    def encode(self, record: dict[str, Any]) -> dict[str, Any]:
        return record_to_json(record)

    def batches(self, records: list[dict[str, Any]]) -> Batching:
        rejected: list[Rejected] = []
        sized = []
        for i, record in enumerate(records):
            data = orjson.dumps(self.encode(record))
            if len(data) + 2 > MAX_BODY_BYTES:
                rejected.append(Rejected(record, f"encodes to {len(data)} bytes, over the "
                                                 f"{MAX_BODY_BYTES}-byte request limit", i))
                continue
            sized.append((record, data, len(data)))
        return Batching(pack(sized, max_items=MAX_RECORDS, max_bytes=MAX_BODY_BYTES,
                             separator=1, envelope=2), rejected)

    def signed_request(self, body: bytes, *, delivery: str) -> tuple[bytes, dict[str, str]]:
        """(bytes to send, headers): the user's headers, then ours, which they cannot override."""
        content = gzip_bytes(body) if self.config["gzip"] else body
        timestamp = str(int(self._clock()))
        headers = dict(self.config["headers"])
        headers.update({"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
                        SIGNATURE_HEADER: sign(self._credentials["secret"], timestamp, content),
                        DELIVERY_HEADER: delivery})
        if self.config["gzip"]:
            headers["Content-Encoding"] = "gzip"
        return content, headers

    async def _send(self, batch: Batch) -> SendResult:
        content, headers = self.signed_request(self.body(batch), delivery=delivery_id(batch))
        response = await self.request("POST", self.config["url"], content=content, headers=headers)
        reason = f"webhook answered {response.status_code}: {_reason(response)}"
        if response.status_code == 413:
            return await self.send_halves(batch, reason, 413)
        return classify_status(response.status_code, reason,
                               retry_after_seconds(response.headers.get("Retry-After")))

    async def _check(self) -> CheckResult:
        test = {name: None for name in FIELDS}
        test.update({"id": "00000000-0000-4000-8000-000000000000", "org_id": self.org_id,
                     "log_type": "admin", "event_type": "integration_test", "severity": "info",
                     "message": "Bonito Logs webhook test"})
        test["timestamp"] = format_timestamp(datetime.now(UTC))
        content, headers = self.signed_request(orjson.dumps([test]), delivery="test")
        headers["X-Bonito-Test"] = "true"
        response = await self.request("POST", self.config["url"], content=content, headers=headers)
        message = f"webhook answered {response.status_code}: {_reason(response)}"
        return CheckResult(200 <= response.status_code < 300, message, response.status_code)


def _headers(value: Any, problems: Problems) -> dict[str, str]:
    if not isinstance(value, dict):
        problems.add("config.headers", "must be an object of header name to string value")
        return {}
    if len(value) > 20:
        problems.add("config.headers", "must have at most 20 headers")
    out = {}
    for name, header_value in value.items():
        path = f"config.headers.{name}"
        if not isinstance(name, str) or not _TOKEN.match(name):
            problems.add(path, "is not a valid header name")
        elif name.lower() in RESERVED_HEADERS:
            problems.add(path, "is set by Bonito Logs and cannot be overridden")
        elif not isinstance(header_value, str) or len(header_value) > 4096:
            problems.add(path, "must be a string of at most 4096 characters")
        elif any(c in header_value for c in "\r\n\x00"):
            problems.add(path, "must not contain line breaks or NUL")
        else:
            out[name] = header_value
    return out


def _reason(response: Any) -> str:
    return (response.text or response.reason_phrase or "").strip()[:300] or "no body"
