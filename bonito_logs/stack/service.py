"""What the launcher needs to know about one service, and the shape Kafka and OpenSearch share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bonito_logs.config import Settings
from bonito_logs.stack.health import Probe
from bonito_logs.stack.layout import StackLayout


@dataclass(frozen=True)
class Java:
    executable: Path
    home: Path


@dataclass(frozen=True)
class LaunchSpec:
    """How to start a prepared service: command, folder, environment and OS user."""

    cmd: list[str]
    cwd: Path
    env: dict[str, str]
    user: str | None = None
    notes: list[str] = field(default_factory=list)


class Service:
    """One process of the stack. Subclasses fill in config, command and probe."""

    name: str = ""

    def __init__(self, settings: Settings, layout: StackLayout) -> None:
        self.settings = settings
        self.layout = layout

    @property
    def pid_file(self) -> Path:
        return self.layout.pid_file(self.name)

    @property
    def log_file(self) -> Path:
        return self.layout.log_file(self.name)

    @property
    def port(self) -> int:
        raise NotImplementedError

    @property
    def ports(self) -> list[int]:
        """Every port the service binds (checked for squatters before a start)."""
        return [self.port]

    @property
    def marker(self) -> str:
        """A string only this stack's process has on its command line."""
        raise NotImplementedError

    def prepare(self, java: Java) -> LaunchSpec:
        """Write config, create folders, format storage; return how to start."""
        raise NotImplementedError

    def probe(self) -> Probe:
        raise NotImplementedError
