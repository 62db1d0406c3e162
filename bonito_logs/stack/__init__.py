"""The local stack: a single-node Kafka and OpenSearch, without Docker.

``bonito-logs stack up|down|status`` drives it from the shell; tests and other tools
call the same functions. Every function takes the :class:`~bonito_logs.config.Settings`
the stack was started with (default: ``get_settings()``). Pid files, logs and data live
under ``settings.home_path`` — so do **not** pass the per-test ``settings`` fixture
(its ``home`` is a tmp folder); pass ``Settings.from_env()`` or nothing.

Whole stack::

    up(settings=None, *, timeout_s=None) -> dict[str, ServiceStatus]
        fetch once from Maven Central, start what is not running, wait until healthy
    down(settings=None, *, timeout_s=60) -> dict[str, bool]     # data is kept
    status(settings=None) -> dict[str, ServiceStatus]
    is_healthy(settings=None) -> bool

One service (``name`` is ``"kafka"`` or ``"opensearch"``), for outage tests::

    stop_service(name, settings=None, *, timeout_s=60) -> bool   # SIGTERM, then SIGKILL
    start_service(name, settings=None, *, wait=True, timeout_s=None) -> ServiceStatus
    wait_healthy(name, settings=None, *, timeout_s=120) -> ServiceStatus
    service_status(name, settings=None) -> ServiceStatus

Stopping keeps the data: a restarted OpenSearch has its indices, a restarted Kafka its
topics and committed offsets. Failures raise :class:`StackError` whose message names
the log file (``<home>/logs/<service>.log``) and quotes its last lines.
"""

from bonito_logs.stack.errors import StackError
from bonito_logs.stack.launcher import (
    SERVICES,
    ServiceStatus,
    down,
    is_healthy,
    service_status,
    start_service,
    status,
    stop_service,
    up,
    wait_healthy,
)

__all__ = [
    "SERVICES",
    "ServiceStatus",
    "StackError",
    "down",
    "is_healthy",
    "service_status",
    "start_service",
    "status",
    "stop_service",
    "up",
    "wait_healthy",
]
