"""The worker process: a Faust app hosting the stream workers.

Run it as ``faust -A bonito_logs.streams.app worker -l info`` or ``bonito-logs worker``.

Faust supervises the process (start-up, signals, graceful shutdown, logging).
The indexer is a plain aiokafka consumer inside a Faust service rather than a
Faust agent; ``bonito_logs.streams.indexer`` says why.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from mode import Service

from bonito_logs.config import Settings, get_settings
from bonito_logs.store import ensure_templates, make_client
from bonito_logs.streams.aggregator import AggregatorAgent
from bonito_logs.streams.exporter import ExporterAgent
from bonito_logs.streams.forwarding import ForwardingSupervisor
from bonito_logs.streams.housekeeping import retention_loop
from bonito_logs.streams.indexer import IndexerAgent
from bonito_logs.streams.status import WorkerStatus, heartbeat_loop

log = logging.getLogger(__name__)


async def prepare(settings: Settings) -> None:
    """Topics and index templates exist before anything consumes or writes."""
    from bonito_logs.client.topics import ensure_topics

    await ensure_topics(settings)
    client = make_client(settings)
    try:
        await ensure_templates(client, settings)
    finally:
        await client.close()


class WorkerRuntime:
    """Everything one worker process runs, startable without Faust (tests, benchmarks).

    Each stream worker is a component with ``async run()`` (returns when stopped)
    and ``stop()``; a new worker adds itself in ``components()``.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.status = WorkerStatus.for_settings(settings)
        self.indexer = IndexerAgent(settings, status=self.status)
        self.aggregator = AggregatorAgent(settings, status=self.status)
        self.exporter = ExporterAgent(settings, status=self.status)
        self.forwarding = ForwardingSupervisor(settings, status=self.status)
        self._tasks: list[asyncio.Task] = []
        self._chores: list[asyncio.Task] = []
        self._client = None

    def components(self) -> dict[str, Any]:
        """name -> component, each with ``async run()`` and ``stop()``: the ones this
        process runs (``BONITO_WORKER_COMPONENTS``, so a deployment can give the
        indexer processes of its own and scale each concern separately)."""
        every = {"indexer": self.indexer, "aggregator": self.aggregator, "exporter": self.exporter,
                 "forwarding": self.forwarding}
        wanted = self.settings.worker_components.replace(" ", "")
        if wanted in ("", "all"):
            return every
        names = wanted.split(",")
        unknown = sorted(set(names) - set(every))
        if unknown:
            raise ValueError(f"BONITO_WORKER_COMPONENTS: unknown component(s) {', '.join(unknown)}; "
                             f"expected all or a comma list of {', '.join(every)}")
        return {name: every[name] for name in names}

    async def start(self) -> None:
        # opensearch-py logs each failed request with a traceback; the components
        # report an unreachable OpenSearch themselves, once per retry.
        if not log.isEnabledFor(logging.DEBUG):
            logging.getLogger("opensearch").setLevel(logging.ERROR)
        await _retry_forever(lambda: prepare(self.settings), "preparing topics and templates")
        self._client = make_client(self.settings)
        self._tasks = [asyncio.create_task(component.run(), name=name)
                       for name, component in self.components().items()]
        self._chores = [
            asyncio.create_task(heartbeat_loop(self.status, self.settings, self._client), name="heartbeat"),
            asyncio.create_task(retention_loop(self.settings, self._client), name="retention"),
        ]

    async def wait(self) -> None:
        """Until any component ends (which only happens on stop or a bug)."""
        await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)

    async def stop(self) -> None:
        for component in self.components().values():
            component.stop()
        for task in self._chores:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._chores, return_exceptions=True)
        if self._client is not None:
            await self._client.close()


async def _retry_forever(step, what: str) -> None:
    delay = 0.5
    while True:
        try:
            await step()
            return
        except Exception as exc:
            log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


def create_app(settings: Settings | None = None) -> faust.App:
    settings = settings or get_settings()
    app = faust.App(
        # One Faust group per deployment (named after its indexer group), so separate
        # deployments on one broker never wait on each other's members.
        f"bonito-workers.{settings.indexer_group}",
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        autodiscover=False,
        # Faust's default (60 s) makes a worker restarted after a crash wait a minute
        # for the dead member of its group before anything starts.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
    )

    @app.service
    class StreamWorkers(Service):
        """Hosts the WorkerRuntime inside Faust's service tree."""

        def __post_init__(self) -> None:
            self.runtime = WorkerRuntime(settings)

        async def on_start(self) -> None:
            await self.runtime.start()

        async def on_stop(self) -> None:
            await self.runtime.stop()

    return app


app = create_app()
