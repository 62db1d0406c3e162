"""The shape every destination shares: validated config, encoder, batcher, sender, health check.

A connector turns canonical records (dicts as ``bonito_logs.schemas.decode``
returns them) into ``Batch`` es that respect the destination's limits, sends one
batch per ``send`` call and classifies the outcome as ``ok``, ``retry`` or
``permanent``. It never sleeps between retries and never decides to give up:
the forwarder owns pacing (``RetryPolicy``), the ``CircuitBreaker`` and the
dead-letter topic. Secrets live only in ``self._credentials`` and in request
headers; nothing here logs either.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NamedTuple

import httpx

from bonito_logs.config import Settings, get_settings
from bonito_logs.connectors.validation import Problems, ensure_dicts
from bonito_logs.errors import ValidationError
from bonito_logs.netguard import (
    BlockedDestination,
    check_destination,
    guarded_client,
    resolve_checked,
    split_host,
)

log = logging.getLogger("bonito_logs.connectors")

Outcome = Literal["ok", "retry", "permanent"]


@dataclass(frozen=True)
class Rejected:
    """A record the destination will never accept, and why (dead-letter it)."""

    record: dict[str, Any]
    reason: str
    index: int | None = None  # position in the batch (or the input list) when known


@dataclass
class Batch:
    """Records ready for one request: ``events[i]`` is ``records[i]`` encoded."""

    records: list[dict[str, Any]]
    events: list[Any]
    size: int  # payload bytes as the destination counts them (uncompressed)
    key: str = ""  # destination partition, e.g. the CloudWatch log stream

    def __len__(self) -> int:
        return len(self.records)

    def slice(self, start: int, stop: int | None = None, *, size: int | None = None) -> Batch:
        return Batch(self.records[start:stop], self.events[start:stop],
                     self.size if size is None else size, self.key)


class Batching(NamedTuple):
    """What ``Connector.batches`` returns: batches to send, records to dead-letter."""

    batches: list[Batch]
    rejected: list[Rejected]


@dataclass(frozen=True)
class SendResult:
    """The classified outcome of one ``send``.

    * ``ok``: every record of the batch not listed in ``rejected`` was accepted.
    * ``retry``: try again later (after ``retry_after`` seconds at least, if given);
      ``pending`` is the part of the batch still to send when only part of it got through.
    * ``permanent``: the batch will never be accepted as it is (dead-letter it); ``reason``
      is the destination's own text.
    """

    outcome: Outcome
    reason: str = ""
    retry_after: float | None = None
    status: int | None = None  # HTTP status of the deciding response
    code: str | None = None  # the destination's own code ("4", "ThrottlingException")
    rejected: tuple[Rejected, ...] = ()
    pending: Batch | None = None
    requests: int = 1

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def retryable(self) -> bool:
        return self.outcome == "retry"

    @property
    def permanent(self) -> bool:
        return self.outcome == "permanent"

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason, "retry_after": self.retry_after,
                "status": self.status, "code": self.code, "requests": self.requests,
                "rejected": [{"id": r.record.get("id"), "index": r.index, "reason": r.reason}
                             for r in self.rejected]}


@dataclass(frozen=True)
class CheckResult:
    """The answer of the destination to a real test request."""

    ok: bool
    message: str
    status: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message, "status": self.status, **self.details}


class SendFailed(Exception):
    """Raised inside a connector to end ``send``/``check`` early with a classified result."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.reason)
        self.result = result


# --- the connector ------------------------------------------------------------------------


class Connector(ABC):
    """One destination. Subclasses set ``type_name`` and implement the abstract methods."""

    type_name: ClassVar[str]

    def __init__(self, config: dict[str, Any], credentials: dict[str, Any], *, org_id: str,
                 http: httpx.AsyncClient | None = None, settings: Settings | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings or get_settings()
        ensure_dicts(config, credentials)
        problems = Problems()
        self.config: dict[str, Any] = self._parse(config, credentials, problems, self.settings)
        problems.raise_if_any()
        self._credentials = dict(credentials)
        self.org_id = org_id
        self._clock = clock
        self._http_injected = http is not None
        self._http = http

    # Validation ------------------------------------------------------------------------
    @classmethod
    def validate(cls, config: dict[str, Any], credentials: dict[str, Any], *,
                 settings: Settings | None = None) -> None:
        """Raise ``ValidationError`` naming every problem (``config.x`` / ``credentials.y``).

        Beyond the static rules this checks user-supplied hosts against the SSRF guard.
        """
        settings = settings or get_settings()
        ensure_dicts(config, credentials)
        problems = Problems()
        parsed = cls._parse(config, credentials, problems, settings)
        problems.raise_if_any()
        for url, path in cls._destinations(parsed):
            check_destination(url, allow_private=settings.allow_private_destinations, field=path)

    @classmethod
    @abstractmethod
    def _parse(cls, config: dict[str, Any], credentials: dict[str, Any], problems: Problems,
               settings: Settings) -> dict[str, Any]:
        """Check every rule (adding to ``problems``) and return the normalised config."""

    @classmethod
    def _destinations(cls, config: dict[str, Any]) -> list[tuple[str, str]]:
        """(URL, field path) of each user-chosen host, for the SSRF guard."""
        return []

    # The contract ------------------------------------------------------------------------
    @abstractmethod
    def batches(self, records: list[dict[str, Any]]) -> Batching:
        """Split records into batches within the destination's limits."""

    async def send(self, batch: Batch) -> SendResult:
        """One delivery attempt of ``batch``, classified. Never raises for destination trouble."""
        try:
            return await self._send(batch)
        except SendFailed as exc:
            return exc.result
        except Exception as exc:  # noqa: BLE001 - classify, do not crash the forwarder
            return classify_exception(exc)

    async def check(self) -> CheckResult:
        """A real request proving the settings and credentials work."""
        try:
            return await self._check()
        except SendFailed as exc:
            return CheckResult(False, exc.result.reason, exc.result.status)
        except Exception as exc:  # noqa: BLE001
            result = classify_exception(exc)
            return CheckResult(False, result.reason, result.status)

    @abstractmethod
    async def _send(self, batch: Batch) -> SendResult: ...

    @abstractmethod
    async def _check(self) -> CheckResult: ...

    async def close(self) -> None:
        if self._http is not None and not self._http_injected:
            await self._http.aclose()
        self._http = None

    async def __aenter__(self) -> Connector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:  # no credentials, ever
        return f"<{type(self).__name__} org={self.org_id}>"


class HttpConnector(Connector):
    """A connector speaking HTTP through the SSRF-guarded client."""

    tls_verify: bool | str = True

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = guarded_client(allow_private=self.settings.allow_private_destinations,
                                        timeout=self.settings.connector_timeout_s,
                                        verify=self.tls_verify,
                                        headers={"User-Agent": "bonito-logs"})
        return self._http

    #: bytes around and between encoded events in a request body (JSON array: 2 and 1)
    envelope: ClassVar[int] = 2
    separator: ClassVar[int] = 1

    def body(self, batch: Batch) -> bytes:
        """The uncompressed request body of ``batch`` (a JSON array unless overridden)."""
        return b"[" + b",".join(batch.events) + b"]"

    def sized(self, batch: Batch, start: int, stop: int | None = None) -> Batch:
        events = batch.events[start:stop]
        size = self.envelope + sum(map(len, events)) + self.separator * max(0, len(events) - 1)
        return batch.slice(start, stop, size=size)

    async def send_halves(self, batch: Batch, reason: str, status: int | None) -> SendResult:
        """The destination said "too large" (413): send each half on its own, recursively.

        Halves that end permanently become ``rejected`` records; the first half that
        needs a retry ends the call with ``pending`` = what is still unsent.
        """
        if len(batch) == 1:
            return SendResult("permanent", reason, status=status)
        middle = len(batch) // 2
        parts = [self.sized(batch, 0, middle), self.sized(batch, middle)]
        rejected: list[Rejected] = []
        requests = 1
        for i, part in enumerate(parts):
            result = await self.send(part)
            requests += result.requests
            if result.outcome == "retry":
                rest = [result.pending or part, *parts[i + 1:]]
                pending = Batch([r for b in rest for r in b.records], [e for b in rest for e in b.events],
                                sum(b.size for b in rest), batch.key)
                return SendResult("retry", result.reason, result.retry_after, result.status,
                                  result.code, tuple(rejected) + result.rejected, pending, requests)
            if result.outcome == "permanent" and not result.rejected:
                rejected.extend(Rejected(r, result.reason) for r in part.records)
            rejected.extend(result.rejected)
        return SendResult("ok", f"split after {status}" if rejected == [] else "split; some rejected",
                          status=status, rejected=tuple(rejected), requests=requests)

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One HTTP request; a client handed in by the caller gets the guard before each request."""
        if self._http_injected:
            host, port = split_host(url)
            await resolve_checked(host, port or 443,
                                  allow_private=self.settings.allow_private_destinations)
        return await self.http().request(method, url, **kwargs)


# --- shared helpers -----------------------------------------------------------------------


def classify_exception(exc: BaseException) -> SendResult:
    """Transport trouble is worth a retry; a blocked or invalid destination is not."""
    if isinstance(exc, BlockedDestination):
        return SendResult("permanent", f"destination refused by the SSRF guard: {exc.rule}")
    if isinstance(exc, ValidationError):
        return SendResult("permanent", str(exc))
    if isinstance(exc, httpx.TimeoutException):
        return SendResult("retry", f"timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.TransportError | OSError):
        return SendResult("retry", f"transport error: {type(exc).__name__}: {exc}".rstrip(": "))
    log.exception("connector failed unexpectedly")
    return SendResult("retry", f"unexpected error: {type(exc).__name__}")


def classify_status(status: int, reason: str, retry_after: float | None = None,
                    code: str | None = None) -> SendResult:
    """The common HTTP rule: 2xx ok; 408, 429 and 5xx retry; any other status permanent."""
    if 200 <= status < 300:
        return SendResult("ok", reason, status=status, code=code)
    if status in (408, 429) or status >= 500:
        return SendResult("retry", reason, retry_after, status, code)
    return SendResult("permanent", reason, status=status, code=code)
