"""Fixtures of the browser tests: the app served by uvicorn (with the stream workers) on a
free loopback port, generated data indexed in bulk, keys per role, headless Chromium.

Everything is module-scoped: one server, one data set and one browser per test module.
Import the fixtures by name in the test modules that use them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bonito_logs.api.app import create_app
from bonito_logs.config import Settings
from bonito_logs.schemas import build_record
from bonito_logs.store import make_client
from bonito_logs.store.keys import KeyStore
from tests.conftest import isolated_settings
from tests.integration.support import OUTPUT, generate_records
from tests.integration.test_api_support import delete_everything, index_records

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = OUTPUT / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
PHRASE = "checkout pipeline stalled"
TRACE_ID = "trace-ui-waterfall"
TRACE_SIZE = 12


@dataclass
class UiStack:
    settings: Settings
    base_url: str
    org: str
    keys: dict[str, str]
    records: list[dict[str, Any]]
    other_org: str
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    errors: list[BaseException] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path

    def api(self, role: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30,
                            headers={"Authorization": f"Bearer {self.keys[role]}"})

    def query_all(self, body: dict[str, Any], role: str = "admin") -> list[dict[str, Any]]:
        """Every record the query API returns for ``body``, following the cursor."""
        out: list[dict[str, Any]] = []
        body = {**body, "limit": 1000, "offset": 0}
        with self.api(role) as client:
            while True:
                page = client.post("/api/logs/query", json=body)
                assert page.status_code == 200, page.text
                data = page.json()
                out += data["items"]
                if not data["next_cursor"]:
                    return out
                body["cursor"] = data["next_cursor"]


def ui_records(org: str, other: str, now: datetime) -> list[dict[str, Any]]:
    """Generic traffic, gateway errors sharing a phrase (with costs), one 12-record trace,
    and another org's records with the same phrase and trace id (which must never show)."""
    records = generate_records(1500, [org], seed=11, start=now - timedelta(hours=6),
                               span=timedelta(hours=6) - timedelta(minutes=1))
    for i in range(70):
        records.append(build_record(
            org_id=org, log_type="gateway", event_type="request",
            severity="critical" if i % 5 == 0 else "error",
            timestamp=now - timedelta(minutes=3 + i * 4, seconds=i),
            user_id=f"user-{i % 7}", trace_id=f"trace-stall-{i}",
            duration_ms=round(200 + i * 37.5, 3), cost=round(0.001 * (i * 7 % 23) + 0.0005, 6) if i % 6 else None,
            message=f"{PHRASE} after {i} retries", metadata={"model": "gpt-4o", "status": 504, "attempt": i}))
    start = now - timedelta(minutes=30)
    steps = [("gateway", "request", "info", 0, 820.0), ("agent", "execute", "info", 5, 2400.0),
             ("kb", "search", "info", 40, 95.5), ("gateway", "request", "info", 150, 640.0),
             ("agent", "tool_use", "info", 800, None), ("kb", "search", "warn", 830, 310.0),
             ("gateway", "request", "error", 1150, 30.0), ("gateway", "request", "info", 1200, 700.0),
             ("agent", "tool_use", "info", 1910, None), ("auth", "token_refresh", "debug", 1950, 12.0),
             ("billing", "usage_calculation", "info", 2300, 40.0), ("agent", "status_change", "info", 2390, 10.0)]
    for n, (log_type, event, sev, offset_ms, duration) in enumerate(steps):
        records.append(build_record(
            org_id=org, log_type=log_type, event_type=event, severity=sev,
            timestamp=start + timedelta(milliseconds=offset_ms), trace_id=TRACE_ID, user_id="user-trace",
            resource_type="agent", resource_id="support-triage", duration_ms=duration,
            cost=0.0123 * (n + 1) if log_type == "gateway" else None,
            message=f"trace step {n + 1}: {log_type} {event}",
            metadata={"step": n + 1, "nested": {"ok": sev != "error", "tags": ["ui", "trace"]}}))
    records += generate_records(200, [other], seed=12, start=now - timedelta(hours=2), span=timedelta(hours=1))
    records.append(build_record(org_id=other, log_type="gateway", event_type="request", severity="error",
                                timestamp=now - timedelta(minutes=5), trace_id=TRACE_ID,
                                message=f"{PHRASE} in another org"))
    assert sum(r["trace_id"] == TRACE_ID and r["org_id"] == org for r in records) == TRACE_SIZE
    return records


def ui_settings(base_url: str, home: Path) -> Settings:
    name = f"ui{uuid.uuid4().hex[:10]}"
    return isolated_settings(
        name, home, exports_partitions=1, exports_progress_s=0.3, exports_lease_s=6.0,
        exports_page_size=100, worker_id=f"{name}-ui", public_url=base_url,
        allow_private_destinations=True,
        topic_partitions=int(os.environ.get("BONITO_TEST_PARTITIONS", "2")),
    )


async def _make_keys(settings: Settings, org: str, other: str) -> dict[str, str]:
    client = make_client(settings)
    try:
        store = KeyStore(client, settings)
        await store.ensure_index()
        keys = {}
        for role in ("viewer", "member", "admin"):
            keys[role] = (await store.create(org, role, name=f"ui {role}", email=f"{role}@ui.example")).token
        keys["other"] = (await store.create(other, "admin", name="other org")).token
        return keys
    finally:
        await client.close()


def run_async(coro: Any) -> Any:
    """``asyncio.run`` in a thread of its own: Playwright's sync API keeps a loop in this one."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _serve(stack: UiStack, sock: socket.socket, with_workers: bool) -> None:
    async def main() -> None:
        runtime = None
        if with_workers:
            from bonito_logs.streams.app import WorkerRuntime

            runtime = WorkerRuntime(stack.settings)
            await runtime.start()
        try:
            await stack.server.serve(sockets=[sock])
        finally:
            if runtime is not None:
                await runtime.stop()

    try:
        asyncio.run(main())
    except BaseException as exc:  # noqa: BLE001 - reported by the fixture
        stack.errors.append(exc)


@contextlib.contextmanager
def serve_ui(tmp: Path, *, with_workers: bool = True) -> Iterator[UiStack]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = ui_settings(base_url, tmp)
    org, other = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC).replace(microsecond=0)
    records = ui_records(org, other, now)
    run_async(index_records(settings, records))
    keys = run_async(_make_keys(settings, org, other))
    stack = UiStack(settings=settings, base_url=base_url, org=org, keys=keys, records=records,
                    other_org=other)
    stack.server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning",
                                                 lifespan="on"))
    stack.thread = threading.Thread(target=_serve, args=(stack, sock, with_workers), daemon=True)
    stack.thread.start()
    deadline = time.monotonic() + 60
    while not stack.server.started:
        if stack.errors or time.monotonic() > deadline:
            raise AssertionError(f"the UI server did not start: {stack.errors}")
        time.sleep(0.05)
    try:
        yield stack
    finally:
        stack.server.should_exit = True
        stack.thread.join(60)
        sock.close()
        run_async(delete_everything(settings))


@pytest.fixture(scope="module")
def ui(tmp_path_factory) -> Iterator[UiStack]:
    with serve_ui(tmp_path_factory.mktemp("ui")) as stack:
        yield stack


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def signed_in(browser, ui: UiStack, role: str, viewport: dict[str, int] | None = None):
    """A new page of a fresh browser context, signed in through the form with ``role``'s key."""
    context = browser.new_context(viewport=viewport or DESKTOP, accept_downloads=True,
                                  timezone_id="Europe/Berlin", locale="en-GB")
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(ui.url("/logs/login"))
    page.fill("#api_key", ui.keys[role])
    page.click("button[type=submit]")
    page.wait_for_url("**/logs")
    return page


def shoot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def shown_ids(page) -> list[str]:
    return page.eval_on_selector_all("#rows tr[data-id]", "rows => rows.map(r => r.dataset.id)")


def page_state(page) -> dict[str, Any]:
    return page.evaluate("JSON.parse(document.getElementById('explorer-state').textContent)")
