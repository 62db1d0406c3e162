"""Where the local stack keeps its jars, data, logs and pid files.

Everything derives from :class:`~bonito_logs.config.Settings`, so two checkouts
(or two ``BONITO_HOME`` values) get two independent stacks.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from bonito_logs.config import Settings

# OpenSearch refuses to run as root; as root it runs as settings.stack_user from a folder
# that user owns, outside the checkout (which may sit under /root, mode 700).
ROOT_OPENSEARCH_BASE = Path("/var/lib/bonito-logs")


def running_as_root() -> bool:
    return os.geteuid() == 0


@dataclass(frozen=True)
class StackLayout:
    cache: Path
    home: Path
    kafka_version: str
    opensearch_version: str
    opensearch_base: Path

    @classmethod
    def from_settings(cls, settings: Settings, *, as_root: bool | None = None) -> StackLayout:
        home = settings.home_path.absolute()
        as_root = running_as_root() if as_root is None else as_root
        if settings.opensearch_dir:
            base = Path(settings.opensearch_dir).absolute()
        elif as_root:
            digest = hashlib.sha256(str(home).encode()).hexdigest()[:12]
            base = ROOT_OPENSEARCH_BASE / digest / "opensearch"
        else:
            base = home / "opensearch"
        return cls(
            cache=settings.stack_cache_path.absolute(),
            home=home,
            kafka_version=settings.kafka_version,
            opensearch_version=settings.opensearch_version,
            opensearch_base=base,
        )

    # fetched artifacts (shared by every home) -----------------------------------
    @property
    def kafka_lib(self) -> Path:
        return self.cache / f"kafka-{self.kafka_version}" / "lib"

    @property
    def opensearch_dist(self) -> Path:
        """The unzipped distribution, never run in place (it is copied per home)."""
        return self.cache / f"opensearch-{self.opensearch_version}"

    # per-home state ------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def pid_file(self, service: str) -> Path:
        return self.run_dir / f"{service}.pid"

    def log_file(self, service: str) -> Path:
        return self.logs_dir / f"{service}.log"

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def kafka_config(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def kafka_log4j(self) -> Path:
        return self.kafka_dir / "log4j2.xml"

    @property
    def kafka_data(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def opensearch_home(self) -> Path:
        """The installation copy OpenSearch runs from (its config/ is ours to write)."""
        return self.opensearch_base / f"opensearch-{self.opensearch_version}"

    @property
    def opensearch_data(self) -> Path:
        return self.opensearch_base / "data"

    @property
    def opensearch_logs(self) -> Path:
        return self.opensearch_base / "logs"
