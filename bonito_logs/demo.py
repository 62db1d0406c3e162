"""``bonito-logs demo``: the whole product on this machine, with data, until Ctrl-C.

Starts the local stack (unless it already runs), a worker and the API as child
processes, creates the demo organisation with an admin key (printed), emits a
few thousand realistic records through the client helper the first time, and
waits. Ctrl-C stops everything this command started, and nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bonito_logs.config import Settings, get_settings

log = logging.getLogger(__name__)

DEMO_ORG = "d3e0b17a-5a1e-4c0d-9b1e-000000000001"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="run stack + worker + API with demo data until Ctrl-C (what `make run` does)",
        description="Start the local stack (if needed), a worker and the API; create the demo "
                    "organisation and an admin key; emit realistic demo records once; wait for "
                    "Ctrl-C, then stop everything this command started.")
    p.add_argument("--records", type=int, default=3000, help="demo records to emit (default 3000)")
    p.add_argument("--no-wait", action="store_true", help="set everything up, print, and stop again")
    p.set_defaults(func=_run)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    # Ctrl-C, a closed terminal, `kill` and a background start (where SIGINT is ignored)
    # all stop what this command started: its children run in their own sessions, so
    # nothing else would stop them.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    from bonito_logs import stack

    started_stack = not stack.is_healthy(settings)
    if started_stack:
        print("starting Kafka and OpenSearch …", flush=True)
        stack.up(settings)
    children: list[subprocess.Popen] = []
    try:
        from bonito_logs.streams.app import prepare

        asyncio.run(prepare(settings))
        logs = settings.home_path / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        children.append(_spawn(["worker", "-l", "info"], logs / "worker.log"))
        children.append(_spawn(["api"], logs / "api.log"))
        base = f"http://{settings.api_host}:{settings.api_port}"
        _wait_for_api(base, children)
        token = asyncio.run(_demo_key(settings))
        emitted = asyncio.run(_emit_demo(settings, args.records))
        _print_welcome(base, token, emitted, logs)
        if not args.no_wait:
            _wait_forever(children)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping …", flush=True)
        for child in children:
            _stop(child)
        if started_stack:
            stack.down(settings)
    return 0


def _spawn(argv: list[str], log_path: Path) -> subprocess.Popen:
    out = open(log_path, "ab")  # noqa: SIM115 - owned by the child
    try:
        return subprocess.Popen([sys.executable, "-m", "bonito_logs.cli", *argv], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        out.close()


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is not None:
        return
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(5)


def _wait_for_api(base: str, children: list[subprocess.Popen], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in children:
            if child.poll() is not None:
                raise SystemExit(f"a demo process exited early ({child.args}); see its log under var/logs")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the API did not answer on {base} within {timeout_s:.0f}s; see var/logs/api.log")


async def _demo_key(settings: Settings) -> str:
    from bonito_logs.store import make_client
    from bonito_logs.store.keys import KeyStore

    client = make_client(settings)
    try:
        keys = KeyStore(client, settings)
        await keys.ensure_index()
        return (await keys.create(DEMO_ORG, "admin", name="demo admin (make run)",
                                  email="admin@demo.example")).token
    finally:
        await client.close()


async def _emit_demo(settings: Settings, count: int) -> int:
    """Emit the demo traffic unless the demo org already has records; returns how many were emitted."""
    from bonito_logs.client import LogService
    from bonito_logs.demo_data import demo_calls
    from bonito_logs.store import make_client

    client = make_client(settings)
    try:
        existing = await client.count(index=settings.index_pattern, body={"query": {"term": {"org_id": DEMO_ORG}}},
                                      ignore_unavailable=True, allow_no_indices=True)
    finally:
        await client.close()
    if existing["count"] > 0:
        return 0
    service = LogService(settings)
    n = 0
    for method, kwargs in demo_calls(DEMO_ORG, count=count):
        await getattr(service, method)(**kwargs)
        n += 1
    await service.close()
    return n


def _print_welcome(base: str, token: str, emitted: int, logs: Path) -> None:
    data = (f"emitted {emitted} demo records (searchable within seconds)" if emitted
            else "the demo organisation already has its records")
    print(f"""
Bonito Logs is running.
  API        {base}   (OpenAPI: {base}/api/openapi.json)
  web UI     {base}/logs   (sign in with the key below)
  org        {DEMO_ORG}
  admin key  {token}
  data       {data}
  logs       {logs}/worker.log, {logs}/api.log

Try:
  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
       -d '{{"filters": {{"severities": ["error", "critical"]}}, "limit": 5}}' {base}/api/logs/query

Press Ctrl-C to stop everything this command started.
""", flush=True)


def _wait_forever(children: list[subprocess.Popen]) -> None:
    while True:
        for child in children:
            if child.poll() is not None:
                print(f"{child.args[3]} exited with {child.returncode}; stopping", flush=True)
                return
        time.sleep(1)
