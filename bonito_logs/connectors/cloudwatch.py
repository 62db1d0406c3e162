"""Amazon CloudWatch Logs through boto3's ``PutLogEvents``, run on a small thread pool.

PutLogEvents rules (AWS API reference): at most 10,000 events and 1,048,576
bytes per call, counting each event as its UTF-8 message plus 26 bytes; one
event at most 1 MB; events sorted by timestamp; one call spans at most 24
hours; events older than 14 days or more than 2 hours ahead are refused. The
stream name is a template: ``{org_id}`` and ``{log_type}`` split records into
one batch (one call) per resulting stream. A missing group or stream is
created, then the call is made again.
"""

from __future__ import annotations

import asyncio
import re
import string
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import orjson

from bonito_logs.config import Settings
from bonito_logs.connectors.base import (
    Batch,
    Batching,
    CheckResult,
    Connector,
    Rejected,
    SendResult,
    classify_exception,
)
from bonito_logs.connectors.encoding import (
    epoch_ms,
    pack,
)
from bonito_logs.connectors.validation import Problems
from bonito_logs.netguard import check_destination
from bonito_logs.schemas import record_to_json

MAX_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 1_048_576  # message + overhead; a bigger event could never fit a call anyway
MAX_SPAN_MS = 24 * 3600 * 1000
MAX_AGE_MS = 14 * 24 * 3600 * 1000
MAX_AHEAD_MS = 2 * 3600 * 1000

RETRY_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "ServiceUnavailableException", "ServiceUnavailable",
    "InternalFailure", "InternalServerError", "InternalError", "RequestTimeout",
    "RequestTimeoutException", "OperationAbortedException", "InvalidSequenceTokenException",
    "ResourceNotFoundException",  # still missing right after we created it: try again
})
AUTH_CODES = frozenset({
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
    "SignatureDoesNotMatch", "AccessDeniedException", "AccessDenied", "ExpiredTokenException",
    "IncompleteSignature", "MissingAuthenticationToken", "UnauthorizedOperation",
})

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}\Z")
_GROUP = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}\Z")
_ACCESS_KEY = re.compile(r"[A-Z0-9]{16,128}\Z")
_PLACEHOLDERS = frozenset({"org_id", "log_type"})
_CONFIG_KEYS = ("region", "log_group", "log_stream", "endpoint_url")
_CREDENTIAL_KEYS = ("aws_access_key_id", "aws_secret_access_key", "session_token")


class CloudWatchConnector(Connector):
    type_name = "cloudwatch"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: Any = None
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def _parse(cls, config: dict[str, Any], credentials: dict[str, Any], problems: Problems,
               settings: Settings) -> dict[str, Any]:
        problems.unknown(config, _CONFIG_KEYS, "config", cls.type_name)
        problems.unknown(credentials, _CREDENTIAL_KEYS, "credentials", cls.type_name)
        region = problems.string(config, "region", "config", max_length=32)
        if region is not None and not _REGION.match(region):
            problems.add("config.region", "must be an AWS region like us-east-1")
        group = problems.string(config, "log_group", "config", max_length=512)
        if group is not None and not _GROUP.match(group):
            problems.add("config.log_group", "may contain only letters, digits and . - _ / #")
        stream = problems.string(config, "log_stream", "config", max_length=400)
        if stream is not None:
            _check_template(stream, problems)
        endpoint = problems.string(config, "endpoint_url", "config", required=False, max_length=2048)
        if endpoint is not None:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                problems.add("config.endpoint_url", "must be an http(s) URL")
        key_id = problems.string(credentials, "aws_access_key_id", "credentials", max_length=128)
        if key_id is not None and not _ACCESS_KEY.match(key_id):
            problems.add("credentials.aws_access_key_id", "must be an AWS access key id "
                                                          "(16+ upper-case letters and digits)")
        problems.string(credentials, "aws_secret_access_key", "credentials", max_length=256)
        problems.string(credentials, "session_token", "credentials", required=False, max_length=8192)
        return {"region": region, "log_group": group, "log_stream": stream,
                "endpoint_url": endpoint}

    @classmethod
    def _destinations(cls, config: dict[str, Any]) -> list[tuple[str, str]]:
        return [(config["endpoint_url"], "config.endpoint_url")] if config["endpoint_url"] else []

    # boto3, on our own threads ------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The boto3 ``logs`` client (created on first use; tests hook its events)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session(
                aws_access_key_id=self._credentials["aws_access_key_id"],
                aws_secret_access_key=self._credentials["aws_secret_access_key"],
                aws_session_token=self._credentials.get("session_token") or None,
                region_name=self.config["region"],
            )
            timeout = self.settings.connector_timeout_s
            self._client = session.client(
                "logs", endpoint_url=self.config["endpoint_url"] or None,
                config=Config(retries={"total_max_attempts": 1, "mode": "standard"},  # we own retries
                              connect_timeout=timeout, read_timeout=timeout,
                              user_agent_extra="bonito-logs"))
        return self._client

    async def _call(self, fn: Any, *args: Any) -> Any:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bonito-cloudwatch")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _guard(self) -> None:
        # Resolved again before every call: a DNS answer may have changed since validation.
        if self.config["endpoint_url"]:
            check_destination(self.config["endpoint_url"], field="config.endpoint_url",
                              allow_private=self.settings.allow_private_destinations)

    # Encoder + batches ------------------------------------------------------------------
    def stream_name(self, record: dict[str, Any]) -> str:
        return self.config["log_stream"].format(org_id=self.org_id, log_type=record["log_type"])

    def encode(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"timestamp": epoch_ms(record), "message": orjson.dumps(record_to_json(record)).decode()}

    def batches(self, records: list[dict[str, Any]]) -> Batching:
        now_ms = int(self._clock() * 1000)
        rejected: list[Rejected] = []
        streams: dict[str, list[tuple[dict[str, Any], dict[str, Any], int]]] = {}
        for i, record in enumerate(records):
            event = self.encode(record)
            size = len(event["message"].encode()) + EVENT_OVERHEAD
            reason = _refusal(event["timestamp"], size, now_ms)
            if reason:
                rejected.append(Rejected(record, reason, i))
                continue
            streams.setdefault(self.stream_name(record), []).append((record, event, size))
        out: list[Batch] = []
        for stream, entries in streams.items():
            entries.sort(key=lambda e: e[1]["timestamp"])  # stable: ties keep input order
            out.extend(pack(entries, max_items=MAX_EVENTS, max_bytes=MAX_BATCH_BYTES, key=stream,
                            joinable=lambda b, ev: ev["timestamp"] - b.events[0]["timestamp"] <= MAX_SPAN_MS))
        return Batching(out, rejected)

    # Requests ---------------------------------------------------------------------------
    async def _send(self, batch: Batch) -> SendResult:
        try:
            return await self._call(self._put, batch)
        except Exception as exc:  # noqa: BLE001
            return classify(exc)

    def _put(self, batch: Batch) -> SendResult:
        self._guard()
        params = {"logGroupName": self.config["log_group"], "logStreamName": batch.key,
                  "logEvents": batch.events}
        try:
            answer = self.client.put_log_events(**params)
            requests = 1
        except Exception as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            requests = 2 + self._ensure(batch.key)
            answer = self.client.put_log_events(**params)
        return SendResult("ok", "delivered", status=200, requests=requests,
                          rejected=_rejected(batch, answer.get("rejectedLogEventsInfo") or {}))

    def _ensure(self, stream: str | None) -> int:
        """Create the log group and ``stream`` (either may exist already); returns the calls made."""
        group = self.config["log_group"]
        calls = [lambda: self.client.create_log_group(logGroupName=group)]
        if stream is not None:
            calls.append(lambda: self.client.create_log_stream(logGroupName=group, logStreamName=stream))
        for call in calls:
            try:
                call()
            except Exception as exc:
                if _code(exc) != "ResourceAlreadyExistsException":
                    raise
        return len(calls)

    async def _check(self) -> CheckResult:
        try:
            return await self._call(self._check_sync)
        except Exception as exc:  # noqa: BLE001
            result = classify(exc)
            return CheckResult(False, result.reason, result.status)

    def _check_sync(self) -> CheckResult:
        self._guard()
        group = self.config["log_group"]
        found = self.client.describe_log_groups(logGroupNamePrefix=group, limit=50)
        exists = any(g.get("logGroupName") == group for g in found.get("logGroups", []))
        template = self.config["log_stream"]
        stream = None if "{log_type}" in template else template.format(org_id=self.org_id, log_type="")
        if not exists or stream:
            self._ensure(stream)
        said = f"log group {group} " + ("found" if exists else "created")
        if stream:
            said += f"; log stream {stream} ready"
        else:
            said += "; log streams are created per log type on first delivery"
        return CheckResult(True, said, 200)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None
        await super().close()


def classify(exc: BaseException) -> SendResult:
    """AWS error codes first, then botocore's transport errors, then the generic rules."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        code, message = _error(exc.response)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        reason = f"CloudWatch Logs answered {code}: {message}"
        if code == "DataAlreadyAcceptedException":
            return SendResult("ok", reason, status=status, code=code)
        if code in RETRY_CODES or status == 429 or (status or 0) >= 500:
            return SendResult("retry", reason, status=status, code=code)
        return SendResult("permanent", reason, status=status, code=code)
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return SendResult("permanent", f"AWS credentials are incomplete: {exc}")
    if isinstance(exc, bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return SendResult("retry", f"timed out ({type(exc).__name__})")
    if isinstance(exc, bx.HTTPClientError | bx.EndpointConnectionError):
        return SendResult("retry", f"transport error: {type(exc).__name__}")
    return classify_exception(exc)


def _error(response: dict[str, Any]) -> tuple[str, str]:
    """(code, message) of an AWS error; digs into an XML body botocore could not parse."""
    error = response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message") or "")
    if code.isdigit() and "<Code>" in message:
        found_code = re.search(r"<Code>([^<]+)</Code>", message)
        found_message = re.search(r"<Message>([^<]*)</Message>", message)
        code = found_code.group(1) if found_code else code
        message = found_message.group(1) if found_message else message
    return code, message or "no message"


def _code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def _refusal(timestamp_ms: int, size: int, now_ms: int) -> str | None:
    if size > MAX_EVENT_BYTES:
        return (f"is {size} bytes with CloudWatch's 26-byte overhead, over the "
                f"{MAX_EVENT_BYTES}-byte limit per event")
    if timestamp_ms < now_ms - MAX_AGE_MS:
        return "timestamp is older than 14 days; CloudWatch Logs refuses such events"
    if timestamp_ms > now_ms + MAX_AHEAD_MS:
        return "timestamp is more than 2 hours in the future; CloudWatch Logs refuses such events"
    return None


def _rejected(batch: Batch, info: dict[str, Any]) -> tuple[Rejected, ...]:
    """Map ``rejectedLogEventsInfo`` (inclusive end indices, start index) to records."""
    reasons: dict[int, str] = {}
    for i in range(info.get("tooNewLogEventStartIndex", len(batch)), len(batch)):
        reasons[i] = "CloudWatch Logs refused the event: more than 2 hours in the future"
    if "tooOldLogEventEndIndex" in info:
        for i in range(info["tooOldLogEventEndIndex"] + 1):
            reasons[i] = "CloudWatch Logs refused the event: older than 14 days"
    if "expiredLogEventEndIndex" in info:
        for i in range(info["expiredLogEventEndIndex"] + 1):
            reasons.setdefault(i, "CloudWatch Logs refused the event: older than the group's retention")
    return tuple(Rejected(batch.records[i], reasons[i], i) for i in sorted(reasons) if i < len(batch))


def _check_template(template: str, problems: Problems) -> None:
    if ":" in template or "*" in template:
        problems.add("config.log_stream", "must not contain : or *")
        return
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError:
        problems.add("config.log_stream", "has an unbalanced { or }")
        return
    if names - _PLACEHOLDERS:
        problems.add("config.log_stream", "may use only the placeholders {org_id} and {log_type}")
    elif not template.format(org_id="x", log_type="x").strip():
        problems.add("config.log_stream", "must not be empty")
