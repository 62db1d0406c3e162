"""Shared fixtures: every test run gets its own topic and index names."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from bonito_logs.config import Settings

RUN_ID = uuid.uuid4().hex[:8]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def run_id() -> str:
    return RUN_ID


@pytest.fixture
def unique_name(request) -> str:
    """A name no other test (of this or any earlier run) uses: run id + test name hash."""
    token = uuid.uuid4().hex[:6]
    return f"t{RUN_ID}{token}"


def isolated_settings(name: str, home: Path | str, **changes) -> Settings:
    """Settings from the environment whose topics, groups, indices and folder are named after
    ``name``, so tests never see each other's data; ``changes`` override the rest."""
    values = dict(
        logs_topic=f"test.{name}.logs",
        dlq_topic=f"test.{name}.dlq",
        index_prefix=f"test-{name}-logs-",
        meta_prefix=f"test-{name}-",
        indexer_group=f"test.{name}.indexer",
        exports_topic=f"test.{name}.exports",
        exports_group=f"test.{name}.exporter",
        forward_prefix=f"test.{name}.fwd.",
        home=str(home),
        topic_partitions=int(os.environ.get("BONITO_TEST_PARTITIONS", "6")),
    )
    values.update(changes)
    return Settings.from_env().replace(**values)


@pytest.fixture
def settings(tmp_path: Path, unique_name: str) -> Settings:
    """Settings from the environment, with private topics, indices and folders for this test."""
    return isolated_settings(unique_name, tmp_path / "home")
