"""Helpers of the forwarding tests (no tests here): settings, the API, integrations per peer,
waiting for states, worker processes, and removing the integrations' Kafka topics."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
from starlette.applications import Starlette

from bonito_logs import forward_topics
from bonito_logs.config import Settings
from bonito_logs.streams.app import prepare
from tests.integration.support import WorkerProcess, delete_test_indices
from tests.integration.test_api_support import api_session, bearer, new_key
from tests.peers.cloudwatch import DUMMY_KEY_ID, DUMMY_SECRET
from tests.peers.datadog import DEFAULT_API_KEY
from tests.peers.splunk import DEFAULT_TOKEN
from tests.peers.webhook import DEFAULT_SECRET

CW_GROUP = "/bonito/forwarding"


def forwarding_settings(settings: Settings, **over: Any) -> Settings:
    """The test's settings with private destinations allowed (the peers are on 127.0.0.1)
    and a breaker quick enough for a test."""
    values: dict[str, Any] = dict(allow_private_destinations=True, connector_timeout_s=2.0,
                                  forward_breaker_threshold=3, forward_breaker_cooldown_s=4.0,
                                  forward_retry_base_s=0.2, forward_retry_cap_s=2.0,
                                  api_monitor_cache_s=0.5)
    values.update(over)
    return settings.replace(**values)


def renamed(settings: Settings) -> Settings:
    """``settings`` with topics, indices and groups of their own (as the ``settings`` fixture
    makes them), for a second scenario running beside the first."""
    token = f"t{uuid.uuid4().hex[:14]}"
    return settings.replace(logs_topic=f"test.{token}.logs", dlq_topic=f"test.{token}.dlq",
                            index_prefix=f"test-{token}-logs-", meta_prefix=f"test-{token}-",
                            indexer_group=f"test.{token}.indexer")


def datadog_body(peer: Any, *, api_key: str = DEFAULT_API_KEY, **extra: Any) -> dict[str, Any]:
    return {"name": "Production Datadog", "integration_type": "datadog",
            "config": {"site": "datadoghq.com", "service": "bonito", "tags": ["env:prod"],
                       "endpoint_url": peer.url},
            "credentials": {"api_key": api_key}, "enabled": True, **extra}


def splunk_body(peer: Any, *, token: str = DEFAULT_TOKEN, use_ack: bool = False,
                **extra: Any) -> dict[str, Any]:
    return {"name": "Splunk HEC", "integration_type": "splunk",
            "config": {"host": peer.url, "index": "bonito", "use_ack": use_ack},
            "credentials": {"hec_token": token}, **extra}


def webhook_body(peer: Any, *, secret: str = DEFAULT_SECRET, **extra: Any) -> dict[str, Any]:
    return {"name": "Webhook", "integration_type": "webhook",
            "config": {"url": peer.hook_url, "gzip": True},
            "credentials": {"secret": secret}, **extra}


def cloudwatch_body(peer: Any, *, group: str = CW_GROUP, **extra: Any) -> dict[str, Any]:
    return {"name": "CloudWatch", "integration_type": "cloudwatch",
            "config": {"region": peer.region, "log_group": group, "log_stream": "{org_id}/{log_type}",
                       "endpoint_url": peer.endpoint_url},
            "credentials": {"aws_access_key_id": DUMMY_KEY_ID, "aws_secret_access_key": DUMMY_SECRET},
            **extra}


class Api:
    """The API in-process, with one key per role for two orgs."""

    def __init__(self, app: Starlette, client: httpx.AsyncClient, keys: dict[str, str]) -> None:
        self.app = app
        self.client = client
        self.keys = keys
        self.created: list[str] = []

    def headers(self, who: str = "admin") -> dict[str, str]:
        return bearer(self.keys[who])

    async def create(self, body: dict[str, Any], who: str = "admin") -> dict[str, Any]:
        response = await self.client.post("/api/logs/integrations", json=body, headers=self.headers(who))
        assert response.status_code == 201, response.text
        self.created.append(response.json()["id"])
        return response.json()

    async def get(self, iid: str, who: str = "admin") -> dict[str, Any]:
        response = await self.client.get(f"/api/logs/integrations/{iid}", headers=self.headers(who))
        assert response.status_code == 200, response.text
        return response.json()

    async def patch(self, iid: str, body: dict[str, Any], who: str = "admin") -> dict[str, Any]:
        response = await self.client.patch(f"/api/logs/integrations/{iid}", json=body,
                                           headers=self.headers(who))
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_state(self, iid: str, predicate: Callable[[dict[str, Any]], bool], timeout: float,
                         what: str, *, who: str = "admin", interval: float = 0.25) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = (await self.get(iid, who))["state"]
            if predicate(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; state: {state}")
            await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def forwarding_api(settings: Settings, orgs: dict[str, str], *,
                         topics: bool = True) -> AsyncIterator[Api]:
    """The API with keys ``admin``/``member``/``viewer`` of ``orgs["a"]`` and ``admin_b`` of
    ``orgs["b"]``; ``topics``: create the logs topics and index template first (for workers)."""
    if topics:
        await prepare(settings)
    async with api_session(settings) as (app, client):
        roles = ("admin", "member", "viewer")
        tokens = await asyncio.gather(*(new_key(app, orgs["a"], role) for role in roles),
                                      new_key(app, orgs["b"], "admin"))
        api = Api(app, client, dict(zip((*roles, "admin_b"), tokens, strict=True)))
        try:
            yield api
        finally:
            await delete_integration_topics(settings, api.created)


async def delete_integration_topics(settings: Settings, integration_ids: list[str]) -> None:
    """The dead-letter and replay topics the integrations made (best effort)."""
    if not integration_ids:
        return
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        names = [name for iid in integration_ids
                 for name in (forward_topics.dlq_topic(settings, iid), forward_topics.replay_topic(settings, iid))
                 if name in existing]
        if names:
            await admin.delete_topics(names)
    except Exception:  # noqa: BLE001 - cleanup only
        pass
    finally:
        await admin.close()


@contextlib.contextmanager
def worker(settings: Settings, name: str) -> Iterator[WorkerProcess]:
    process = WorkerProcess(settings, name)
    process.start()
    try:
        yield process
    finally:
        process.terminate()


async def cleanup(settings: Settings) -> None:
    await delete_test_indices(settings)
