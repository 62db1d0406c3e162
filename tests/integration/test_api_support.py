"""Shared helpers of the API and keys integration tests (no tests here).

The app is driven in-process through ``httpx.ASGITransport``, which does not run
the lifespan: ``api_session`` closes the app's services itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
from opensearchpy import AsyncOpenSearch
from starlette.applications import Starlette

from bonito_logs.api.app import create_app
from bonito_logs.config import Settings
from bonito_logs.store import ensure_templates, index_for, template_name, to_document

OPENSEARCH_WAIT_S = 180.0


async def wait_for_opensearch(settings: Settings, timeout: float = OPENSEARCH_WAIT_S) -> None:
    """Poll until OpenSearch answers with a usable cluster (it may still be starting)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            try:
                response = await http.get(f"{settings.opensearch_url}/_cluster/health")
                if response.status_code == 200 and response.json().get("status") in ("green", "yellow"):
                    return
            except httpx.HTTPError as exc:
                last = exc
            await asyncio.sleep(1)
    raise AssertionError(f"OpenSearch at {settings.opensearch_url} did not answer in {timeout}s: {last}")


@contextlib.asynccontextmanager
async def api_session(settings: Settings, *, wait: bool = True,
                      ) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    if wait:
        await wait_for_opensearch(settings)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield app, client
    finally:
        await app.state.services.aclose()
        if wait:  # a session pointed at a dead OpenSearch has nothing to clean
            await delete_everything(settings)


async def delete_everything(settings: Settings) -> None:
    """The test's log and meta indices and its index template."""
    client = AsyncOpenSearch(hosts=[settings.opensearch_url], timeout=30)
    try:
        for pattern in (settings.index_pattern, settings.meta_prefix + "*"):
            await client.indices.delete(index=pattern, ignore_unavailable=True, allow_no_indices=True)
        await client.indices.delete_index_template(name=template_name(settings), ignore=[404])
    finally:
        await client.close()


async def new_key(app: Starlette, org_id: str, role: str, **fields: Any) -> str:
    created = await app.state.services.keys.create(org_id, role, **fields)
    return created.token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def index_records(settings: Settings, records: Iterable[dict[str, Any]]) -> None:
    """Bulk the records straight into their daily indices (routing = org), refreshed."""
    client = AsyncOpenSearch(hosts=[settings.opensearch_url], timeout=30)
    try:
        await ensure_templates(client, settings)
        body: list[dict[str, Any]] = []
        for record in records:
            body.append({"index": {"_index": index_for(record["timestamp"], settings),
                                   "_id": record["id"], "routing": record["org_id"]}})
            body.append(to_document(record))
        response = await client.bulk(body=body, refresh="true")
        assert not response["errors"], response
    finally:
        await client.close()
