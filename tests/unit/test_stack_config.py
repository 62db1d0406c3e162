"""Generated Kafka/OpenSearch configuration and where the stack keeps its files."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from bonito_logs.config import Settings
from bonito_logs.stack import kafka, opensearch
from bonito_logs.stack.layout import ROOT_OPENSEARCH_BASE, StackLayout


def _props(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def _settings(tmp_path: Path, **changes) -> Settings:
    return Settings().replace(home=str(tmp_path / "home"), stack_cache=str(tmp_path / "cache"), **changes)


def test_server_properties_single_node_kraft(tmp_path):
    settings = _settings(tmp_path, kafka_port=19092, kafka_controller_port=19093)
    layout = StackLayout.from_settings(settings, as_root=False)
    props = _props(kafka.render_server_properties(settings, layout))

    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == str(tmp_path / "home" / "kafka" / "data")
    assert props["num.partitions"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr"):
        assert props[key] == "1"
    # topics stay auto-creatable (the broker default)
    assert props.get("auto.create.topics.enable", "true") == "true"


def test_cluster_id_looks_like_kafka_uuid():
    ids = {kafka.random_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cid in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cid)
        assert not cid.startswith("-")


def test_log4j_config_is_shipped():
    assert "<Configuration" in kafka.log4j_config()


def test_opensearch_yml(tmp_path):
    settings = _settings(tmp_path, opensearch_port=19200, opensearch_transport_port=19300)
    layout = StackLayout.from_settings(settings, as_root=False)
    text = opensearch.render_opensearch_yml(settings, layout, security_plugin=False)
    conf = dict(line.split(": ", 1) for line in text.splitlines() if not line.startswith("#"))

    assert conf["discovery.type"] == "single-node"
    assert conf["network.host"] == "127.0.0.1"
    assert conf["http.port"] == "19200"
    assert conf["transport.port"] == "19300"
    assert conf["path.data"] == str(layout.opensearch_data)
    assert conf["path.logs"] == str(layout.opensearch_logs)
    assert conf["bootstrap.memory_lock"] == "false"
    assert conf["cluster.routing.allocation.disk.threshold_enabled"] == "false"
    assert "plugins.security.disabled" not in conf
    assert "action.auto_create_index" not in conf

    with_security = opensearch.render_opensearch_yml(settings, layout, security_plugin=True)
    assert "plugins.security.disabled: true" in with_security


def test_layout_as_user_keeps_everything_under_home(tmp_path):
    layout = StackLayout.from_settings(_settings(tmp_path), as_root=False)
    home = tmp_path / "home"
    assert layout.opensearch_base == home / "opensearch"
    assert layout.pid_file("kafka") == home / "run" / "kafka.pid"
    assert layout.log_file("opensearch") == home / "logs" / "opensearch.log"
    assert layout.kafka_lib == tmp_path / "cache" / "kafka-4.1.1" / "lib"
    assert layout.opensearch_dist == tmp_path / "cache" / "opensearch-2.19.4"


def test_layout_as_root_moves_opensearch_out_of_the_checkout(tmp_path):
    layout = StackLayout.from_settings(_settings(tmp_path), as_root=True)
    digest = hashlib.sha256(str(tmp_path / "home").encode()).hexdigest()[:12]
    assert layout.opensearch_base == ROOT_OPENSEARCH_BASE / digest / "opensearch"
    assert layout.opensearch_home.parent == layout.opensearch_base
    # Kafka runs as root: its files stay in the home
    assert layout.kafka_data == tmp_path / "home" / "kafka" / "data"


def test_layout_explicit_opensearch_dir(tmp_path):
    settings = _settings(tmp_path, opensearch_dir=str(tmp_path / "os"))
    for as_root in (True, False):
        assert StackLayout.from_settings(settings, as_root=as_root).opensearch_base == tmp_path / "os"
