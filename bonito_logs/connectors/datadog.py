"""Datadog Logs intake (HTTP API v2): gzip'd JSON arrays, ``DD-API-KEY`` auth.

Limits (Datadog's "Send logs" reference): at most 1,000 entries and 5 MB
uncompressed per request, 1 MB per log. We count MB as 1,000,000 bytes, the
stricter reading. Datadog truncates a log over 1 MB; we reject it instead so a
truncated record never looks delivered.
"""

from __future__ import annotations

import re
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
    epoch_ms,
    gzip_bytes,
    our_fields,
    pack,
    retry_after_seconds,
)
from bonito_logs.connectors.validation import Problems

SITES: tuple[str, ...] = (
    "datadoghq.com", "datadoghq.eu", "us3.datadoghq.com", "us5.datadoghq.com",
    "ap1.datadoghq.com", "ap2.datadoghq.com", "ddog-gov.com",
)
MAX_ENTRIES = 1_000
MAX_PAYLOAD_BYTES = 5_000_000
MAX_ENTRY_BYTES = 1_000_000

#: our severity → Datadog's ``status`` (its log levels)
STATUS: dict[str, str] = {
    "debug": "debug", "info": "info", "warn": "warn", "error": "error", "critical": "critical",
}

_API_KEY = re.compile(r"[0-9a-fA-F]{32}\Z")
_CONFIG_KEYS = ("site", "service", "tags", "source", "hostname", "endpoint_url")


class DatadogConnector(HttpConnector):
    type_name = "datadog"

    @classmethod
    def _parse(cls, config: dict[str, Any], credentials: dict[str, Any], problems: Problems,
               settings: Settings) -> dict[str, Any]:
        problems.unknown(config, _CONFIG_KEYS, "config", cls.type_name)
        problems.unknown(credentials, ("api_key",), "credentials", cls.type_name)
        site = config.get("site")
        if site not in SITES:
            problems.add("config.site", "must be one of " + ", ".join(SITES))
        service = problems.string(config, "service", "config", max_length=100)
        source = problems.string(config, "source", "config", required=False, max_length=100)
        hostname = problems.string(config, "hostname", "config", required=False, max_length=255)
        tags = _tags(config.get("tags", []), problems)
        endpoint = problems.string(config, "endpoint_url", "config", required=False)
        if endpoint is not None:
            if not settings.allow_private_destinations:
                problems.add("config.endpoint_url", "is only honoured when private destinations are "
                                                    "allowed (BONITO_ALLOW_PRIVATE_DESTINATIONS); "
                                                    "choose a site instead")
            elif urlsplit(endpoint).scheme not in ("http", "https") or not urlsplit(endpoint).hostname:
                problems.add("config.endpoint_url", "must be an http(s) URL")
        api_key = credentials.get("api_key")
        if not api_key:
            problems.add("credentials.api_key", "is required")
        elif not isinstance(api_key, str) or not _API_KEY.match(api_key):
            problems.add("credentials.api_key", "must be a Datadog API key (32 hexadecimal characters)")
        return {"site": site, "service": service, "tags": tags, "source": source or "bonito-logs",
                "hostname": hostname or "bonito-logs", "endpoint_url": (endpoint or "").rstrip("/")}

    @classmethod
    def _destinations(cls, config: dict[str, Any]) -> list[tuple[str, str]]:
        return [(config["endpoint_url"], "config.endpoint_url")] if config["endpoint_url"] else []

    @property
    def intake_url(self) -> str:
        base = self.config["endpoint_url"] or f"https://http-intake.logs.{self.config['site']}"
        return base + "/api/v2/logs"

    @property
    def validate_url(self) -> str:
        base = self.config["endpoint_url"] or f"https://api.{self.config['site']}"
        return base + "/api/v1/validate"

    # Encoder + batches ------------------------------------------------------------------
    def encode(self, record: dict[str, Any]) -> dict[str, Any]:
        """One Datadog log entry: the reserved attributes, then our fields beside them."""
        return encode_entry(record, self.config)

    def batches(self, records: list[dict[str, Any]]) -> Batching:
        rejected: list[Rejected] = []
        sized = []
        for i, record in enumerate(records):
            data = orjson.dumps(self.encode(record))
            if len(data) > MAX_ENTRY_BYTES:
                rejected.append(Rejected(record, f"encodes to {len(data)} bytes, over Datadog's "
                                                 f"{MAX_ENTRY_BYTES}-byte limit per log", i))
                continue
            sized.append((record, data, len(data)))
        return Batching(pack(sized, max_items=MAX_ENTRIES, max_bytes=MAX_PAYLOAD_BYTES,
                             separator=1, envelope=2), rejected)

    # Request + classification -----------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"DD-API-KEY": self._credentials["api_key"], "Content-Type": "application/json",
                "Content-Encoding": "gzip"}

    async def _send(self, batch: Batch) -> SendResult:
        response = await self.request("POST", self.intake_url, content=gzip_bytes(self.body(batch)),
                                      headers=self._headers())
        reason = f"Datadog answered {response.status_code}: {_reason(response)}"
        if response.status_code == 413:
            return await self.send_halves(batch, reason, 413)
        return classify_status(response.status_code, reason,
                               retry_after_seconds(response.headers.get("Retry-After")))

    async def _check(self) -> CheckResult:
        response = await self.request("GET", self.validate_url,
                                      headers={"DD-API-KEY": self._credentials["api_key"]})
        if response.status_code == 200:
            return CheckResult(True, "Datadog accepted the API key: " + response.text.strip(), 200)
        return CheckResult(False, f"Datadog answered {response.status_code}: {_reason(response)}",
                           response.status_code)


def encode_entry(record: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    entry = our_fields(record)
    tags = [*config["tags"], f"log_type:{record['log_type']}", f"event_type:{record['event_type']}"]
    entry.update({
        "message": record.get("message") or record["event_type"],
        "ddsource": config["source"],
        "ddtags": ",".join(tags),
        "hostname": config["hostname"],
        "service": config["service"],
        "status": STATUS.get(record["severity"], "info"),
        "timestamp": epoch_ms(record),
    })
    return entry


def _tags(value: Any, problems: Problems) -> list[str]:
    if not isinstance(value, list):
        problems.add("config.tags", "must be a list of strings like key:value")
        return []
    out = []
    for i, tag in enumerate(value):
        if not isinstance(tag, str) or not tag or len(tag) > 200:
            problems.add(f"config.tags[{i}]", "must be a string of 1 to 200 characters")
        elif "," in tag or any(c.isspace() for c in tag):
            problems.add(f"config.tags[{i}]", "must not contain commas or whitespace")
        else:
            out.append(tag)
    return out


def _reason(response: Any) -> str:
    """Datadog's error text: ``{"errors": [...]}`` joined, else the raw body (short)."""
    try:
        errors = response.json().get("errors")
        if errors:
            return "; ".join(str(e) for e in errors)
    except (ValueError, AttributeError):
        pass
    return (response.text or response.reason_phrase or "").strip()[:300]
