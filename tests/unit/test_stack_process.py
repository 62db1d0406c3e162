"""Pid files, stopping, port checks, health probes and failure messages, no services."""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from bonito_logs.config import Settings
from bonito_logs.stack import health, launcher, process
from bonito_logs.stack.cli import register
from bonito_logs.stack.errors import StackError
from bonito_logs.stack.health import Probe
from bonito_logs.stack.layout import StackLayout
from bonito_logs.stack.service import Java, LaunchSpec, Service


# --- pid files -----------------------------------------------------------------------------
def test_pid_file_round_trip(tmp_path):
    pid_file = tmp_path / "run" / "x.pid"
    assert process.read_pid(pid_file) is None
    process.write_pid(pid_file, 4242)
    assert process.read_pid(pid_file) == 4242
    pid_file.write_text("garbage")
    assert process.read_pid(pid_file) is None


def test_running_pid_checks_the_command_line_and_drops_stale_files(tmp_path):
    pid_file = tmp_path / "x.pid"
    process.write_pid(pid_file, os.getpid())
    assert process.running_pid(pid_file, marker="python") == os.getpid()
    # our pid, but not the program the file is about: stale (pid reused)
    assert process.running_pid(pid_file, marker="kafka.Kafka /nowhere") is None
    assert not pid_file.exists()


def test_running_pid_of_a_dead_process(tmp_path):
    proc = process.spawn([sys.executable, "-c", "pass"], log_file=tmp_path / "x.log",
                         cwd=tmp_path, env=os.environ)
    proc.wait()
    pid_file = tmp_path / "x.pid"
    process.write_pid(pid_file, proc.pid)
    assert process.running_pid(pid_file, marker="python") is None


# --- spawn / stop --------------------------------------------------------------------------
def test_spawn_detaches_and_logs(tmp_path):
    log = tmp_path / "logs" / "svc.log"
    proc = process.spawn([sys.executable, "-c", "print('hello from child')"],
                         log_file=log, cwd=tmp_path, env=os.environ)
    proc.wait(10)
    assert os.getsid(os.getpid()) != proc.pid  # its own session
    text = log.read_text()
    assert "starting:" in text and "hello from child" in text


def test_stop_terminates_the_process_group(tmp_path):
    proc = process.spawn(["sleep", "60"], log_file=tmp_path / "s.log", cwd=tmp_path, env=os.environ)
    assert process.is_alive(proc.pid, "sleep")
    assert process.stop(proc.pid, timeout_s=10) is False
    assert not process.is_alive(proc.pid)


def test_stop_kills_what_ignores_sigterm(tmp_path):
    script = ("import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "print('sig' + 'term ignored', flush=True); time.sleep(60)")
    proc = process.spawn([sys.executable, "-c", script],
                         log_file=tmp_path / "s.log", cwd=tmp_path, env=os.environ)
    deadline = time.monotonic() + 10
    while "sigterm ignored" not in (tmp_path / "s.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.stop(proc.pid, timeout_s=0.5) is True
    assert not process.is_alive(proc.pid)


# --- ports ---------------------------------------------------------------------------------
def test_port_in_use():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert process.port_in_use(port)
    assert not process.port_in_use(port)


# --- helpers ---------------------------------------------------------------------------------
def test_tail(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert process.tail(log, 3) == "line 97\nline 98\nline 99"
    assert "no log file" in process.tail(tmp_path / "missing.log")


@pytest.mark.parametrize(("output", "major"), [
    ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
    ('java version "1.8.0_381"', 8),
    ('openjdk version "21" 2023-09-19', 21),
    ('openjdk version "25-ea" 2025-09-16', 25),
])
def test_parse_java_version(output, major):
    assert process.parse_java_version(output) == major


def test_missing_java_is_explained(monkeypatch):
    monkeypatch.setattr(process.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(StackError, match="Java is not installed"):
        process.find_java()


# --- health probes -------------------------------------------------------------------------
def test_kafka_metadata_request_bytes():
    raw = health.kafka_metadata_request(correlation_id=7, client_id="c")
    (size,) = struct.unpack_from(">i", raw)
    assert size == len(raw) - 4
    assert struct.unpack_from(">hhih", raw, 4) == (3, 4, 7, 1)
    assert raw[14:15] == b"c"
    assert raw[15:] == struct.pack(">ib", 0, 0)


def _metadata_response(cid: int, brokers: list[tuple[int, str, int]]) -> bytes:
    body = struct.pack(">iii", cid, 0, len(brokers))
    for node, host, port in brokers:
        body += struct.pack(">ih", node, len(host)) + host.encode() + struct.pack(">ih", port, -1)
    return body + struct.pack(">h", -1) + struct.pack(">ii", 1, 0)


def test_parse_metadata_brokers():
    payload = _metadata_response(1, [(1, "127.0.0.1", 9092), (2, "h2", 9093)])
    assert health.parse_metadata_brokers(payload) == [(1, "127.0.0.1", 9092), (2, "h2", 9093)]
    with pytest.raises(ValueError):
        health.parse_metadata_brokers(payload, correlation_id=99)


def test_probe_kafka_against_a_fake_broker():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def answer():
            conn, _ = server.accept()
            with conn:
                size = struct.unpack(">i", conn.recv(4))[0]
                request = conn.recv(size)
                cid = struct.unpack_from(">i", request, 4)[0]
                payload = _metadata_response(cid, [(1, "127.0.0.1", port)])
                conn.sendall(struct.pack(">i", len(payload)) + payload)

        thread = threading.Thread(target=answer)
        thread.start()
        probe = health.probe_kafka("127.0.0.1", port)
        thread.join(5)
    assert probe.healthy, probe.detail
    assert f"127.0.0.1:{port}" in probe.detail


def test_probe_kafka_nothing_listening():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    probe = health.probe_kafka("127.0.0.1", port, timeout_s=1)
    assert not probe.healthy


@pytest.mark.parametrize(("status", "healthy"), [("green", True), ("yellow", True), ("red", False)])
def test_probe_opensearch(status, healthy):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"cluster_name": "c", "status": status}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        probe = health.probe_opensearch(f"http://127.0.0.1:{server.server_port}")
    finally:
        thread.join(5)
        server.server_close()
    assert probe.healthy is healthy
    assert status in probe.detail


# --- launcher failure paths with a fake service ----------------------------------------------
class FakeService(Service):
    name = "fake"

    def __init__(self, settings, layout, cmd, ports):
        super().__init__(settings, layout)
        self._cmd, self._ports = cmd, ports

    @property
    def port(self):
        return self._ports[0]

    @property
    def ports(self):
        return self._ports

    @property
    def marker(self):
        return "fake-marker"

    def prepare(self, java):
        return LaunchSpec(cmd=self._cmd, cwd=self.layout.home, env=dict(os.environ))

    def probe(self):
        return Probe(False, "never healthy")


def _fake(tmp_path: Path, cmd: list[str], ports: list[int]) -> FakeService:
    settings = Settings().replace(home=str(tmp_path / "home"), stack_cache=str(tmp_path / "cache"))
    layout = StackLayout.from_settings(settings, as_root=False)
    layout.home.mkdir(parents=True)
    return FakeService(settings, layout, cmd, ports)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


JAVA = Java(executable=Path("/usr/bin/java"), home=Path("/usr"))


def test_launch_refuses_a_taken_port(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        svc = _fake(tmp_path, ["sleep", "60"], [_free_port(), port])
        with pytest.raises(StackError, match=f"127.0.0.1:{port} is already taken"):
            launcher._launch(svc, JAVA)
    assert not svc.pid_file.exists()


def test_a_service_that_dies_during_start_shows_its_log(tmp_path):
    script = "import sys; print('FATAL: cannot bind, giving up'); sys.exit(3)"
    svc = _fake(tmp_path, [sys.executable, "-c", script], [_free_port()])
    pid = launcher._launch(svc, JAVA)
    assert process.read_pid(svc.pid_file) == pid
    with pytest.raises(StackError) as err:
        launcher._wait_healthy(svc, pid, time.monotonic() + 30)
    message = str(err.value)
    assert "fake exited during start" in message
    assert str(svc.log_file) in message
    assert "FATAL: cannot bind" in message
    assert not svc.pid_file.exists()


def test_a_service_that_never_gets_healthy_times_out(tmp_path):
    svc = _fake(tmp_path, ["sleep", "60"], [_free_port()])
    pid = launcher._launch(svc, JAVA)
    try:
        with pytest.raises(StackError, match="did not become healthy in time"):
            launcher._wait_healthy(svc, pid, time.monotonic() + 1)
    finally:
        process.stop(pid, timeout_s=5)


def test_unknown_service_name():
    with pytest.raises(ValueError, match="unknown service"):
        launcher.get_service("zookeeper", Settings())


# --- CLI ------------------------------------------------------------------------------------
def test_cli_registers_stack_up_down_status():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    for action in ("up", "down", "status"):
        args = parser.parse_args(["stack", action])
        assert callable(args.func)
    assert parser.parse_args(["stack", "up", "--timeout", "5"]).timeout == 5.0
    assert parser.parse_args(["stack", "status", "--json"]).json is True
