"""Fetching from Maven Central: markers, the generated pom, failures (subprocess mocked)."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from bonito_logs.config import Settings
from bonito_logs.stack import fetch
from bonito_logs.stack.errors import StackError
from bonito_logs.stack.layout import StackLayout


@pytest.fixture
def layout(tmp_path: Path) -> StackLayout:
    settings = Settings().replace(home=str(tmp_path / "home"), stack_cache=str(tmp_path / "cache"))
    return StackLayout.from_settings(settings, as_root=False)


class FakeMaven:
    """Stands in for ``mvn``: records calls and produces what the real one would."""

    def __init__(self, returncode: int = 0, output: str = "") -> None:
        self.calls: list[list[str]] = []
        self.returncode = returncode
        self.output = output

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd)
        if self.returncode == 0:
            out_dir = Path(next(a for a in cmd if a.startswith("-DoutputDirectory=")).split("=", 1)[1])
            out_dir.mkdir(parents=True, exist_ok=True)
            if "dependency:copy-dependencies" in cmd:
                (out_dir / "kafka_2.13-4.1.1.jar").write_bytes(b"jar")
            else:
                _make_zip(out_dir / "opensearch-2.19.4.zip")
        return subprocess.CompletedProcess(cmd, self.returncode, stdout="", stderr=self.output)


def _make_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("opensearch-2.19.4/bin/opensearch")
        info.external_attr = 0o755 << 16
        zf.writestr(info, "#!/bin/sh\n")
        zf.writestr("opensearch-2.19.4/config/opensearch.yml", "")


@pytest.fixture
def maven(monkeypatch) -> FakeMaven:
    fake = FakeMaven()
    monkeypatch.setattr(fetch.shutil, "which", lambda name: "/usr/bin/mvn")
    monkeypatch.setattr(fetch.subprocess, "run", fake)
    return fake


def test_pom_lists_kafka_log4j2_and_slf4j2():
    pom = fetch.render_pom("4.1.1")
    assert "<artifactId>kafka_2.13</artifactId>\n      <version>4.1.1</version>" in pom
    assert "<artifactId>log4j-core</artifactId>\n      <version>2.25.3</version>" in pom
    assert "<artifactId>log4j-slf4j2-impl</artifactId>" in pom
    assert "<artifactId>slf4j-api</artifactId>\n      <version>2.0." in pom


def test_first_fetch_runs_maven_then_is_a_noop(layout, maven):
    fetch.fetch(layout)

    assert len(maven.calls) == 2
    deps, copy = maven.calls
    assert "dependency:copy-dependencies" in deps
    assert "-DincludeScope=runtime" in deps
    assert f"-DoutputDirectory={layout.kafka_lib}" in deps
    assert "-Dartifact=org.opensearch.distribution.integ-test-zip:opensearch:2.19.4:zip" in copy
    assert fetch.is_fetched(layout)
    script = layout.opensearch_dist / "bin" / "opensearch"
    assert script.stat().st_mode & 0o111, "exec bits survive the unzip"

    fetch.fetch(layout)
    assert len(maven.calls) == 2


def test_a_missing_marker_refetches_only_that_part(layout, maven):
    fetch.fetch(layout)
    (layout.opensearch_dist / fetch.MARKER).unlink()
    fetch.fetch(layout)
    # the zip is still in downloads/: unzipped again, no third Maven run
    assert len(maven.calls) == 2
    assert fetch.is_fetched(layout)

    (layout.kafka_lib / fetch.MARKER).unlink()
    fetch.fetch(layout)
    assert len(maven.calls) == 3 and "dependency:copy-dependencies" in maven.calls[-1]


def test_unreachable_maven_central_is_explained(layout, monkeypatch):
    fake = FakeMaven(returncode=1, output=(
        "[ERROR] Failed to execute goal ... Could not transfer artifact "
        "org.apache.kafka:kafka_2.13:pom:4.1.1 from/to central: repo.maven.apache.org: "
        "Temporary failure in name resolution: UnknownHostException"
    ))
    monkeypatch.setattr(fetch.shutil, "which", lambda name: "/usr/bin/mvn")
    monkeypatch.setattr(fetch.subprocess, "run", fake)
    with pytest.raises(StackError, match="Maven Central is unreachable"):
        fetch.fetch(layout)
    assert not fetch.is_fetched(layout)


def test_missing_artifact_is_explained(layout, monkeypatch):
    fake = FakeMaven(returncode=1, output="[ERROR] Could not find artifact org.apache.kafka:kafka_2.13:jar:9.9.9")
    monkeypatch.setattr(fetch.shutil, "which", lambda name: "/usr/bin/mvn")
    monkeypatch.setattr(fetch.subprocess, "run", fake)
    with pytest.raises(StackError, match="artifact is missing"):
        fetch.fetch(layout)


def test_no_maven_installed(layout, monkeypatch):
    monkeypatch.setattr(fetch.shutil, "which", lambda name: None)
    with pytest.raises(StackError, match="Maven .* not installed"):
        fetch.fetch(layout)
