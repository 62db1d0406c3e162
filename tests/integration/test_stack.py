"""The running local stack (``make test`` starts it): status, idempotent up, and a restart
of OpenSearch alone that keeps its data.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from bonito_logs import stack
from bonito_logs.config import Settings


@pytest.fixture
def stack_settings() -> Settings:
    # Not the per-test `settings` fixture: its home is a tmp folder, and the stack's
    # pid files live under the home the stack was started with.
    return Settings.from_env()


def _opensearch(method: str, path: str, body: dict | None = None, base: str = "") -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def test_status_reports_both_healthy(stack_settings):
    statuses = stack.status(stack_settings)
    assert set(statuses) == {"kafka", "opensearch"}
    for st in statuses.values():
        assert st.running and st.pid, st
        assert st.healthy, st
        assert st.log_file.exists()
    assert statuses["kafka"].port == stack_settings.kafka_port
    assert stack.is_healthy(stack_settings)


def test_status_command_exit_code_and_json(stack_settings):
    proc = subprocess.run([sys.executable, "-m", "bonito_logs.stack", "status", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["opensearch"]["healthy"] and report["kafka"]["healthy"]


def test_up_again_is_a_fast_noop(stack_settings):
    before = {name: st.pid for name, st in stack.status(stack_settings).items()}
    started = time.monotonic()
    after = stack.up(stack_settings)
    assert time.monotonic() - started < 10
    assert {name: st.pid for name, st in after.items()} == before


def test_opensearch_restart_keeps_data(stack_settings, unique_name):
    base = stack_settings.opensearch_url
    index = f"test-{unique_name}-stack-restart"
    status, _ = _opensearch("PUT", f"/{index}", {"settings": {"number_of_replicas": 0}}, base)
    assert status == 200
    status, _ = _opensearch("PUT", f"/{index}/_doc/1?refresh=true", {"kept": True}, base)
    assert status in (200, 201)
    kafka_pid = stack.service_status("kafka", stack_settings).pid
    try:
        assert stack.stop_service("opensearch", stack_settings) is True
        stopped = stack.service_status("opensearch", stack_settings)
        assert not stopped.running and not stopped.healthy
        assert stack.stop_service("opensearch", stack_settings) is False  # already stopped

        restarted = stack.start_service("opensearch", stack_settings)
        assert restarted.running and restarted.healthy
        # Kafka was left alone
        assert stack.service_status("kafka", stack_settings).pid == kafka_pid

        status, doc = _opensearch("GET", f"/{index}/_doc/1", base=base)
        assert status == 200 and doc["_source"] == {"kept": True}
    finally:
        stack.start_service("opensearch", stack_settings)
        _opensearch("DELETE", f"/{index}", base=base)
