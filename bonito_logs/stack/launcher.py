"""Start, stop and check the local stack, whole or one service at a time."""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from bonito_logs.config import Settings, get_settings
from bonito_logs.stack import process
from bonito_logs.stack.errors import StackError
from bonito_logs.stack.fetch import fetch
from bonito_logs.stack.kafka import KafkaService
from bonito_logs.stack.layout import StackLayout
from bonito_logs.stack.opensearch import OpenSearchService
from bonito_logs.stack.service import Java, Service

log = logging.getLogger("bonito_logs.stack")

SERVICES = ("kafka", "opensearch")
MIN_JAVA = 17
STOP_TIMEOUT_S = 60.0
_CLASSES = {"kafka": KafkaService, "opensearch": OpenSearchService}


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    pid: int | None
    healthy: bool
    port: int
    log_file: Path
    detail: str

    def as_dict(self) -> dict:
        out = asdict(self)
        out["log_file"] = str(self.log_file)
        return out

    def line(self) -> str:
        state = f"running (pid {self.pid})" if self.running else "stopped"
        health = "healthy" if self.healthy else "unhealthy"
        return (f"{self.name:<11} {state:<20} {health:<10} 127.0.0.1:{self.port:<6} "
                f"log {self.log_file}  [{self.detail}]")


def get_service(name: str, settings: Settings | None = None) -> Service:
    settings = settings or get_settings()
    try:
        cls = _CLASSES[name]
    except KeyError:
        raise ValueError(f"unknown service {name!r}; expected one of {', '.join(SERVICES)}") from None
    return cls(settings, StackLayout.from_settings(settings))


# --- whole stack -------------------------------------------------------------------------
def up(settings: Settings | None = None, *, timeout_s: float | None = None) -> dict[str, ServiceStatus]:
    """Fetch once, start what is not running, wait until both are healthy."""
    settings = settings or get_settings()
    layout = StackLayout.from_settings(settings)
    timeout_s = settings.stack_start_timeout_s if timeout_s is None else timeout_s
    with _lock(layout):
        fetch(layout)
        java = _java()
        services = [get_service(name, settings) for name in SERVICES]
        started = {svc.name: (_launch(svc, java), time.monotonic()) for svc in services}
        for svc in services:
            pid, since = started[svc.name]
            _wait_healthy(svc, pid, since + timeout_s)
    return status(settings)


def down(settings: Settings | None = None, *, timeout_s: float = STOP_TIMEOUT_S) -> dict[str, bool]:
    """Stop both services (data is kept). Maps each service to whether it was running."""
    settings = settings or get_settings()
    layout = StackLayout.from_settings(settings)
    with _lock(layout):
        return {name: _stop(get_service(name, settings), timeout_s) for name in SERVICES}


def status(settings: Settings | None = None) -> dict[str, ServiceStatus]:
    settings = settings or get_settings()
    return {name: service_status(name, settings) for name in SERVICES}


def is_healthy(settings: Settings | None = None) -> bool:
    return all(s.healthy for s in status(settings).values())


# --- one service -------------------------------------------------------------------------
def service_status(name: str, settings: Settings | None = None) -> ServiceStatus:
    svc = get_service(name, settings)
    pid = process.running_pid(svc.pid_file, svc.marker)
    probe = svc.probe()
    return ServiceStatus(name=name, running=pid is not None, pid=pid, healthy=probe.healthy,
                         port=svc.port, log_file=svc.log_file, detail=probe.detail)


def start_service(name: str, settings: Settings | None = None, *, wait: bool = True,
                  timeout_s: float | None = None) -> ServiceStatus:
    """Start one service on its existing data (no-op if running); wait until healthy."""
    svc = get_service(name, settings)
    timeout_s = svc.settings.stack_start_timeout_s if timeout_s is None else timeout_s
    with _lock(svc.layout):
        fetch(svc.layout)
        pid = _launch(svc, _java())
        if wait:
            _wait_healthy(svc, pid, time.monotonic() + timeout_s)
    return service_status(name, svc.settings)


def stop_service(name: str, settings: Settings | None = None, *,
                 timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stop one service, keeping its data. True if it was running."""
    svc = get_service(name, settings)
    with _lock(svc.layout):
        return _stop(svc, timeout_s)


def wait_healthy(name: str, settings: Settings | None = None, *, timeout_s: float = 120.0) -> ServiceStatus:
    """Block until ``name`` (already started) answers its health probe."""
    svc = get_service(name, settings)
    pid = process.running_pid(svc.pid_file, svc.marker)
    if pid is None:
        raise StackError(f"{name} is not running (no live pid in {svc.pid_file}); see {svc.log_file}")
    _wait_healthy(svc, pid, time.monotonic() + timeout_s)
    return service_status(name, svc.settings)


# --- internals ---------------------------------------------------------------------------
def _java() -> Java:
    executable, home = process.find_java()
    major = process.java_major_version(executable)
    if major < MIN_JAVA:
        raise StackError(f"{executable} is Java {major}; Kafka 4 and OpenSearch need Java {MIN_JAVA}+")
    return Java(executable=executable, home=home)


def _launch(svc: Service, java: Java) -> int:
    pid = process.running_pid(svc.pid_file, svc.marker)
    if pid is not None:
        log.info("%s already running (pid %d)", svc.name, pid)
        return pid
    for port in svc.ports:
        if process.port_in_use(port):
            raise StackError(
                f"{svc.name} cannot start: 127.0.0.1:{port} is already taken by another program "
                f"(not a {svc.name} this launcher started: no live pid in {svc.pid_file}). "
                f"Stop it, or choose other ports with BONITO_* settings."
            )
    spec = svc.prepare(java)
    for note in spec.notes:
        log.info("%s: %s", svc.name, note)
    proc = process.spawn(spec.cmd, log_file=svc.log_file, cwd=spec.cwd, env=spec.env, user=spec.user)
    process.write_pid(svc.pid_file, proc.pid)
    log.info("%s starting (pid %d), log: %s", svc.name, proc.pid, svc.log_file)
    return proc.pid


def _wait_healthy(svc: Service, pid: int, deadline: float) -> None:
    start = time.monotonic()
    while True:
        probe = svc.probe()
        if probe.healthy:
            log.info("%s healthy after %.1fs: %s", svc.name, time.monotonic() - start, probe.detail)
            return
        process.reap(pid)  # our own child that died would linger as a zombie
        if not process.is_alive(pid):
            svc.pid_file.unlink(missing_ok=True)
            raise StackError(
                f"{svc.name} exited during start. Last lines of {svc.log_file}:\n"
                + process.tail(svc.log_file)
            )
        if time.monotonic() >= deadline:
            raise StackError(
                f"{svc.name} (pid {pid}) did not become healthy in time ({probe.detail}). "
                f"It is still running; `bonito-logs stack down` stops it. "
                f"Last lines of {svc.log_file}:\n" + process.tail(svc.log_file)
            )
        time.sleep(0.5)


def _stop(svc: Service, timeout_s: float) -> bool:
    pid = process.running_pid(svc.pid_file, svc.marker)
    if pid is None:
        log.info("%s not running", svc.name)
        return False
    log.info("stopping %s (pid %d)", svc.name, pid)
    killed = process.stop(pid, timeout_s=timeout_s, marker=svc.marker)
    if killed:
        log.warning("%s ignored SIGTERM for %.0fs and was killed; see %s", svc.name, timeout_s, svc.log_file)
    svc.pid_file.unlink(missing_ok=True)
    return True


@contextmanager
def _lock(layout: StackLayout) -> Iterator[None]:
    """One launcher at a time per home: two `stack up` must not start two brokers."""
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    with open(layout.run_dir / "stack.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
