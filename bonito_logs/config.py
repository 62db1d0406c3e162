"""All configuration, read once from ``BONITO_*`` environment variables.

Every setting has a default that works with the local stack started by
``bonito-logs stack up``. Nothing else in the package reads the environment:
ask for ``get_settings()`` (cached) or build ``Settings.from_env(env)`` in tests.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _default_home() -> Path:
    return Path.cwd() / "var"


@dataclass(frozen=True)
class Settings:
    """Every knob of Bonito Logs. The env variable is ``BONITO_`` + the upper-cased name."""

    # --- Kafka -----------------------------------------------------------------
    kafka_bootstrap: str = field(default="127.0.0.1:9092", metadata={"help": "Kafka bootstrap servers"})
    logs_topic: str = field(default="bonito.logs", metadata={"help": "topic the client publishes records to"})
    dlq_topic: str = field(default="bonito.logs.dlq", metadata={"help": "dead-letter topic for records the workers cannot index"})
    topic_partitions: int = field(default=12, metadata={"help": "partitions of the logs topic when the project creates it"})
    topic_retention_ms: int = field(default=7 * 24 * 3600 * 1000, metadata={"help": "retention of the logs topic (ms)"})

    # --- OpenSearch --------------------------------------------------------------
    opensearch_url: str = field(default="http://127.0.0.1:9200", metadata={"help": "OpenSearch base URL"})
    index_prefix: str = field(default="bonito-logs-", metadata={"help": "daily log indices are <prefix>YYYY.MM.DD"})
    meta_prefix: str = field(default="bonito-", metadata={"help": "prefix of the keys/jobs/integrations indices"})
    retention_days: int = field(default=30, metadata={"help": "daily log indices older than this are deleted"})
    index_shards: int = field(default=1, metadata={"help": "primary shards per daily index"})
    index_replicas: int = field(default=0, metadata={"help": "replicas per daily index (0 on a single node)"})

    # --- client helper -------------------------------------------------------------
    client_buffer_records: int = field(default=100_000, metadata={"help": "records held in memory before spilling to the spool"})
    client_batch_records: int = field(default=2_000, metadata={"help": "records per producer send batch"})
    client_linger_ms: int = field(default=20, metadata={"help": "producer linger.ms"})
    client_max_batch_bytes: int = field(default=1_048_576, metadata={"help": "producer max batch size in bytes"})
    client_compression: str = field(default="lz4", metadata={"help": "producer compression: none, gzip, snappy, lz4, zstd"})
    client_spool_dir: str = field(default="", metadata={"help": "spool folder (default: <home>/spool)"})
    client_spool_max_bytes: int = field(default=1_073_741_824, metadata={"help": "spool size past which records are dropped"})
    client_drop_report_interval_s: float = field(default=10.0, metadata={"help": "at most one drop warning per interval"})
    client_retry_backoff_s: float = field(default=1.0, metadata={"help": "wait between reconnect attempts when Kafka is down"})
    client_spool_segment_bytes: int = field(default=16_777_216, metadata={"help": "spool segment file size before a new one starts"})
    client_spool_fsync_s: float = field(default=1.0, metadata={"help": "how often buffered spool writes are flushed and fsynced"})
    client_inflight_batches: int = field(default=8, metadata={"help": "send batches in flight before waiting for acks"})
    client_close_timeout_s: float = field(default=10.0, metadata={"help": "close() waits this long for Kafka before spooling the rest"})

    # --- workers -------------------------------------------------------------------
    indexer_group: str = field(default="bonito.indexer", metadata={"help": "consumer group of the indexer"})
    indexer_batch_records: int = field(default=2_000, metadata={"help": "max documents per bulk request"})
    indexer_batch_seconds: float = field(default=0.5, metadata={"help": "max wait before a partial batch is flushed"})
    worker_id: str = field(default="", metadata={"help": "name of this worker process (default: host-pid)"})
    retention_check_seconds: float = field(default=3600.0, metadata={"help": "how often workers delete expired indices"})

    # --- API -----------------------------------------------------------------------
    api_host: str = field(default="127.0.0.1", metadata={"help": "API bind address"})
    api_port: int = field(default=8000, metadata={"help": "API port"})
    secret_key: str = field(default="dev-insecure-secret-change-me", metadata={"help": "signs sessions, encrypts credentials"})
    api_max_body_bytes: int = field(default=1_048_576, metadata={"help": "request bodies larger than this are refused with 413"})
    api_probe_timeout_s: float = field(default=2.0, metadata={"help": "how long /health and /metrics wait for Kafka or OpenSearch"})
    api_monitor_cache_s: float = field(default=5.0, metadata={"help": "how long consumer lag and worker heartbeats are cached"})
    api_worker_live_s: float = field(default=30.0, metadata={"help": "a worker whose heartbeat is older than this is not live"})

    # --- local stack ---------------------------------------------------------------
    home: str = field(default="", metadata={"help": "data, logs, spool and cache folder (default: ./var)"})
    stack_cache: str = field(default="", metadata={"help": "where fetched jars live (default: ./.cache/stack)"})
    kafka_version: str = field(default="4.1.1", metadata={"help": "Kafka version fetched from Maven Central"})
    opensearch_version: str = field(default="2.19.4", metadata={"help": "OpenSearch version fetched from Maven Central"})
    kafka_port: int = field(default=9092, metadata={"help": "Kafka broker port (local stack)"})
    kafka_controller_port: int = field(default=9093, metadata={"help": "Kafka KRaft controller port (local stack)"})
    opensearch_port: int = field(default=9200, metadata={"help": "OpenSearch HTTP port (local stack)"})
    opensearch_transport_port: int = field(default=9300, metadata={"help": "OpenSearch transport port (local stack)"})
    kafka_heap: str = field(default="512m", metadata={"help": "Kafka JVM heap"})
    opensearch_heap: str = field(default="768m", metadata={"help": "OpenSearch JVM heap"})
    stack_user: str = field(default="bonito", metadata={"help": "unprivileged user OpenSearch runs as when we are root"})
    opensearch_dir: str = field(default="", metadata={"help": "OpenSearch install copy, data and logs (default: <home>/opensearch; as root /var/lib/bonito-logs/<hash of home>/opensearch)"})
    stack_start_timeout_s: float = field(default=120.0, metadata={"help": "how long `stack up` waits for each service to become healthy"})

    # --- integrations (connectors) --------------------------------------------------
    allow_private_destinations: bool = field(default=False, metadata={"help": "let integrations send to loopback/private/link-local addresses (tests, on-premises)"})
    previous_secret_keys: str = field(default="", metadata={"help": "comma-separated former secret keys, still accepted to decrypt stored credentials"})
    connector_timeout_s: float = field(default=10.0, metadata={"help": "timeout of one request to a destination (connect, read, write)"})

    # --- web interface ----------------------------------------------------------------
    session_max_age_s: int = field(default=12 * 3600, metadata={"help": "a web sign-in lasts at most this long (s); the API key is re-checked on every request"})
    session_cookie_secure: bool = field(default=False, metadata={"help": "mark the web session cookie Secure (set this when the UI is served over HTTPS)"})

    # --- exports -------------------------------------------------------------------
    exports_topic: str = field(default="bonito.exports", metadata={"help": "topic of export requests (created if missing)"})
    exports_group: str = field(default="bonito.exporter", metadata={"help": "consumer group of the exporter"})
    exports_partitions: int = field(default=6, metadata={"help": "partitions of the exports topic when the project creates it"})
    exports_concurrency: int = field(default=4, metadata={"help": "export jobs one worker runs at once"})
    exports_per_org: int = field(default=2, metadata={"help": "export jobs of one organisation one worker runs at once"})
    exports_page_size: int = field(default=5000, metadata={"help": "records per point-in-time page an export reads"})
    exports_dir: str = field(default="", metadata={"help": "folder of export files (default: <home>/exports); API and workers must share it"})
    exports_s3_bucket: str = field(default="", metadata={"help": "store export files in this S3 bucket instead of exports_dir"})
    exports_s3_prefix: str = field(default="exports/", metadata={"help": "key prefix of export files in the S3 bucket"})
    exports_s3_endpoint_url: str = field(default="", metadata={"help": "S3 endpoint (empty: AWS; set for MinIO or moto)"})
    exports_s3_region: str = field(default="us-east-1", metadata={"help": "region of the S3 bucket"})
    exports_s3_redirect: bool = field(default=True, metadata={"help": "downloads of S3 exports redirect to a presigned URL (false: the API streams them)"})
    exports_presign_s: int = field(default=300, metadata={"help": "lifetime of a presigned download URL (s)"})
    exports_ttl_s: float = field(default=7 * 24 * 3600.0, metadata={"help": "export files are deleted this long after the job finished (s)"})
    exports_lease_s: float = field(default=30.0, metadata={"help": "a running job whose worker has not renewed its lease for this long is taken over (s)"})
    exports_progress_s: float = field(default=1.0, metadata={"help": "how often a running export saves its progress and renews its lease (s)"})
    exports_housekeeping_s: float = field(default=300.0, metadata={"help": "how often workers delete expired export files (s)"})
    exports_pit_keep_alive: str = field(default="5m", metadata={"help": "keep-alive of an export's point in time between two pages"})
    public_url: str = field(default="http://127.0.0.1:8000", metadata={"help": "base URL of the API as users reach it (links in emails)"})
    smtp_host: str = field(default="", metadata={"help": "SMTP server for export emails (empty: no emails)"})
    smtp_port: int = field(default=25, metadata={"help": "SMTP port"})
    smtp_from: str = field(default="bonito-logs@localhost", metadata={"help": "sender address of export emails"})
    smtp_user: str = field(default="", metadata={"help": "SMTP user (empty: no login)"})
    smtp_password: str = field(default="", metadata={"help": "SMTP password"})
    smtp_starttls: bool = field(default=False, metadata={"help": "upgrade the SMTP connection with STARTTLS"})
    smtp_timeout_s: float = field(default=10.0, metadata={"help": "timeout of one SMTP conversation (s)"})

    # --- statistics (aggregator and stats API) ---------------------------------------
    aggregator_group: str = field(default="", metadata={"help": "consumer group of the aggregator (default: the indexer group with 'indexer' replaced by 'aggregator')"})
    aggregator_batch_records: int = field(default=5_000, metadata={"help": "max records the aggregator applies per batch"})
    aggregator_batch_seconds: float = field(default=0.5, metadata={"help": "max wait before the aggregator applies a partial batch"})
    aggregator_flush_seconds: float = field(default=1.0, metadata={"help": "how often changed rollups are written (and offsets committed)"})
    aggregator_max_dirty_docs: int = field(default=100_000, metadata={"help": "changed rollups held in memory before an early write"})
    aggregator_cache_docs: int = field(default=100_000, metadata={"help": "written rollups kept in memory to save re-reading them"})
    stats_retention_days: int = field(default=400, metadata={"help": "rollups of months entirely older than this are deleted"})

    # --- forwarding (integrations) ------------------------------------------------------
    forward_prefix: str = field(default="bonito.fwd.", metadata={"help": "an integration's consumer group is <prefix><id>; its dead-letter and replay topics <prefix><id>.dlq and <prefix><id>.replay"})
    forward_poll_s: float = field(default=1.0, metadata={"help": "how often workers look for created, changed and deleted integrations (s)"})
    forward_status_s: float = field(default=2.0, metadata={"help": "how often forwarders report their state (and at once when their health changes) (s)"})
    forward_batch_records: int = field(default=5_000, metadata={"help": "max records a forwarder reads from Kafka per batch"})
    forward_batch_seconds: float = field(default=0.5, metadata={"help": "max wait before a forwarder delivers a partial batch (s)"})
    forward_fetch_bytes: int = field(default=1_048_576, metadata={"help": "max bytes a forwarder fetches per partition at once (bounds its memory)"})
    forward_retry_base_s: float = field(default=0.5, metadata={"help": "first retry delay of a failed delivery (s); doubles per attempt, with jitter"})
    forward_retry_cap_s: float = field(default=30.0, metadata={"help": "longest retry delay of a failed delivery (s)"})
    forward_breaker_threshold: int = field(default=5, metadata={"help": "consecutive failed deliveries that open an integration's circuit breaker"})
    forward_breaker_cooldown_s: float = field(default=30.0, metadata={"help": "how long an open circuit breaker waits before one probe delivery (s)"})

    # --- worker process ------------------------------------------------------------------
    worker_components: str = field(default="all", metadata={"help": "stream workers this process runs: all, or a comma list of indexer, aggregator, exporter, forwarding"})

    # ---------------------------------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get("BONITO_" + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _coerce(f.name, f.type, raw)
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """These settings as ``BONITO_*`` variables, for starting another process with them."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out["BONITO_" + f.name.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
        return out

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    # Derived paths ------------------------------------------------------------------
    @property
    def home_path(self) -> Path:
        return Path(self.home) if self.home else _default_home()

    @property
    def spool_path(self) -> Path:
        return Path(self.client_spool_dir) if self.client_spool_dir else self.home_path / "spool"

    @property
    def stack_cache_path(self) -> Path:
        return Path(self.stack_cache) if self.stack_cache else Path.cwd() / ".cache" / "stack"

    @property
    def index_pattern(self) -> str:
        return self.index_prefix + "*"

    @property
    def aggregator_group_id(self) -> str:
        """``aggregator_group``, or one derived from the indexer's (``bonito.indexer`` → ``bonito.aggregator``)."""
        if self.aggregator_group:
            return self.aggregator_group
        head, sep, tail = self.indexer_group.rpartition("indexer")
        return f"{head}aggregator{tail}" if sep else f"{self.indexer_group}.aggregator"

    @property
    def exports_path(self) -> Path:
        return Path(self.exports_dir) if self.exports_dir else self.home_path / "exports"


def _coerce(name: str, type_name: Any, raw: str) -> Any:
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", str(type_name))
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            low = raw.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(raw)
    except ValueError as exc:
        raise ValueError(f"BONITO_{name.upper()}: expected {kind}, got {raw!r}") from exc
    return raw


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, help) for every setting, for the README and ``--help``."""
    out = []
    for f in fields(Settings):
        out.append(("BONITO_" + f.name.upper(), str(f.default), f.metadata.get("help", "")))
    return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
