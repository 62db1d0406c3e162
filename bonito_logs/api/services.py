"""The long-lived objects every request shares: one OpenSearch client and what is built on it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opensearchpy import AsyncOpenSearch
from starlette.requests import Request

from bonito_logs.api.integration_kafka import ForwardingKafka
from bonito_logs.api.metrics import ApiMetrics
from bonito_logs.api.monitor import ClusterMonitor
from bonito_logs.config import Settings
from bonito_logs.export_queue import ExportQueue
from bonito_logs.store import LogSearch, ensure_templates, make_client
from bonito_logs.store.export_files import ExportFiles
from bonito_logs.store.exports import ExportStore
from bonito_logs.store.integration_status import IntegrationStatusStore
from bonito_logs.store.integrations import IntegrationStore
from bonito_logs.store.keys import KeyStore
from bonito_logs.store.rollups import make_stats_client
from bonito_logs.store.stats_read import StatsReader

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    opensearch: AsyncOpenSearch
    keys: KeyStore
    search: LogSearch
    monitor: ClusterMonitor
    metrics: ApiMetrics
    exports: ExportStore
    export_queue: ExportQueue
    export_files: ExportFiles
    stats: StatsReader
    integrations: IntegrationStore
    integration_status: IntegrationStatusStore
    forwarding: ForwardingKafka
    owns_client: bool = True

    @classmethod
    def build(cls, settings: Settings, opensearch: AsyncOpenSearch | None = None) -> Services:
        client = opensearch if opensearch is not None else make_client(settings)
        monitor = ClusterMonitor(settings, client)
        return cls(
            settings=settings,
            opensearch=client,
            keys=KeyStore(client, settings),
            search=LogSearch(client, settings),
            monitor=monitor,
            metrics=ApiMetrics(monitor),
            exports=ExportStore(client, settings),
            export_queue=ExportQueue(settings),
            export_files=ExportFiles.for_settings(settings),
            stats=StatsReader(make_stats_client(settings), settings),
            integrations=IntegrationStore(client, settings),
            integration_status=IntegrationStatusStore(client, settings),
            forwarding=ForwardingKafka(settings),
            owns_client=opensearch is None,
        )

    async def prepare(self) -> None:
        """Install the log index template and the keys index; OpenSearch down is not fatal
        (``/health`` says so, and both are retried by the writers that need them)."""
        try:
            await ensure_templates(self.opensearch, self.settings)
            await self.keys.ensure_index()
            await self.exports.ensure_index()
            await self.integrations.ensure_index()
        except Exception as exc:  # noqa: BLE001 - the API must start to report what is down
            log.warning("OpenSearch not prepared at start-up: %s", exc)

    async def aclose(self) -> None:
        await self.monitor.aclose()
        await self.stats.client.close()
        await self.export_queue.aclose()
        await self.export_files.aclose()
        await self.forwarding.aclose()
        if self.owns_client:
            await self.opensearch.close()


def services(request: Request) -> Services:
    return request.app.state.services
