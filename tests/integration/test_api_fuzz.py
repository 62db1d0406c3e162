"""Schemathesis against ``/api/openapi.json``: no operation answers 5xx to generated input.

The app runs under uvicorn on a free port (its own thread and event loop); every
operation gets ~25 schema-valid and ~10 schema-breaking requests, with an admin key.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from bonito_logs.api.app import create_app
from bonito_logs.schemas import build_record
from bonito_logs.store import make_client
from bonito_logs.store.keys import KeyStore
from tests.integration.test_api_support import delete_everything, index_records, wait_for_opensearch

EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    def __init__(self, app, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="api-under-fuzz", daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)


async def _prepare(settings) -> str:
    await wait_for_opensearch(settings)
    org = str(uuid.uuid4())
    await index_records(settings, [
        build_record(org_id=org, log_type="gateway", event_type="request", severity="info",
                     trace_id="trace-1", message=f"hello {i}") for i in range(5)
    ])
    client = make_client(settings)
    try:
        return (await KeyStore(client, settings).create(org, "admin", name="fuzz")).token
    finally:
        await client.close()


@pytest.fixture
def served(settings):
    token = asyncio.run(_prepare(settings))
    port = _free_port()
    with ServerThread(create_app(settings), port):
        yield f"http://127.0.0.1:{port}", token
    asyncio.run(delete_everything(settings))


def _fuzz(strategy, examples: int, base_url: str, headers: dict[str, str], seen: set[int]):
    """A Hypothesis test sending ``examples`` cases; fails on any 5xx."""

    @hypothesis.settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                         phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck))
    @hypothesis.given(case=strategy)
    def check(case):
        response = case.call_and_validate(base_url=base_url, headers=headers,
                                          checks=[not_a_server_error], timeout=30)
        seen.add(response.status_code)

    return check


@pytest.mark.timeout(300)
def test_no_operation_answers_5xx(served):
    base_url, token = served
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    ran: list[str] = []
    statuses: dict[str, set[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        for mode, examples in EXAMPLES.items():
            try:
                strategy = operation.as_strategy(generation_mode=mode)
            except Exception:  # e.g. nothing to break in a parameterless GET
                if mode is GenerationMode.POSITIVE:
                    raise
                continue

            seen = statuses.setdefault(label, set())
            check = _fuzz(strategy, examples, base_url, headers, seen)
            try:
                check()
            except hypothesis.errors.Unsatisfiable:  # nothing to break: no parameters, no body
                if mode is GenerationMode.POSITIVE:
                    raise
                continue
            except Exception as exc:  # noqa: BLE001 - collect, report every operation at once
                failures.append(f"{label} [{mode.value}]: {exc}")
            ran.append(f"{label} [{mode.value}]")
    assert len({r.split(" [")[0] for r in ran}) >= 8, ran
    assert not failures, "\n\n".join(failures)
    # The key was accepted: schema-valid requests did succeed.
    for label in ("POST /api/logs/query", "POST /api/keys", "GET /api/keys", "GET /health"):
        assert any(200 <= status < 300 for status in statuses[label]), (label, statuses[label])
