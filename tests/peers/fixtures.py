"""pytest fixtures for the peers. Import them by name in the test modules that use them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers.cloudwatch import DUMMY_KEY_ID, DUMMY_SECRET, CloudWatchPeer, moto_url
from tests.peers.datadog import DatadogPeer
from tests.peers.splunk import SplunkPeer
from tests.peers.webhook import WebhookPeer


@pytest.fixture
def datadog_peer() -> Iterator[DatadogPeer]:
    with DatadogPeer() as peer:
        yield peer


@pytest.fixture
def splunk_peer() -> Iterator[SplunkPeer]:
    with SplunkPeer() as peer:
        yield peer


@pytest.fixture
def webhook_peer() -> Iterator[WebhookPeer]:
    with WebhookPeer() as peer:
        yield peer


@pytest.fixture
def cloudwatch_peer(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudWatchPeer]:
    # Dummy credentials: nothing may reach for a real AWS account.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    peer = CloudWatchPeer(moto_url())
    peer.allow_any_auth()
    peer.reset()
    yield peer
    peer.allow_any_auth()
    peer.reset()
