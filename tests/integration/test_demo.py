"""`make run` (`bonito-logs demo`): the whole product comes up with demo data, answers with
the key it prints, and a signal stops everything it started (with the stack already up, as
here, the stack itself stays)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bonito_logs.demo import DEMO_ORG
from tests.conftest import isolated_settings

ROOT = Path(__file__).resolve().parents[2]
RECORDS = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def test_the_demo_serves_its_data_and_a_signal_stops_what_it_started(tmp_path, unique_name):
    settings = isolated_settings(unique_name, tmp_path / "home", api_port=_free_port(),
                                 worker_id=f"demo-{unique_name}")
    env = {**os.environ, **settings.to_env()}
    out_path = tmp_path / "demo.out"
    with open(out_path, "wb") as out:
        demo = subprocess.Popen([sys.executable, "-m", "bonito_logs.cli", "demo", "--records", str(RECORDS)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                start_new_session=True)
    try:
        printed = _wait_for(lambda: re.search(r"admin key\s+(bnt_\S+)", out_path.read_text()), 180,
                            "the demo's welcome")
        emitted = int(re.search(r"emitted (\d+) demo records", out_path.read_text()).group(1))
        assert RECORDS <= emitted < RECORDS + 20  # whole traces: about --records of them
        headers = {"Authorization": f"Bearer {printed.group(1)}"}
        base = f"http://127.0.0.1:{settings.api_port}"
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            def searchable() -> bool:
                body = http.post("/api/logs/query", json={"limit": 1}).json()
                return body["total"]["value"] == emitted

            _wait_for(searchable, 90, f"{emitted} searchable records")
            record = http.post("/api/logs/query", json={"limit": 1}).json()["items"][0]
            assert record["org_id"] == DEMO_ORG

            since = (datetime.now(UTC) - timedelta(days=3)).isoformat()

            def counted() -> dict | None:
                # The demo's records span the last two days.
                stats = http.get("/api/logs/stats", params={"interval": "hour", "start": since,
                                                           "group_by": "log_type"})
                assert stats.status_code == 200, stats.text
                body = stats.json()
                return body if body["totals"]["count"] == emitted else None

            stats = _wait_for(counted, 90, "the demo records in the statistics")
            assert {s["group"] for s in stats["series"]} >= {"gateway", "agent", "kb"}
            assert http.get("/logs", follow_redirects=False).status_code in (200, 303)
        children = _children(demo.pid)
        assert len(children) == 2, children  # the worker and the API
        demo.send_signal(signal.SIGTERM)  # as `kill` or a closed terminal would
        assert demo.wait(60) == 0
        _wait_for(lambda: not any(_alive(pid) for pid in children), 30, "the demo's children to exit")
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", settings.api_port)) != 0, "the API still listens"
        assert "stopping" in out_path.read_text()
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
