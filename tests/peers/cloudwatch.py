"""CloudWatch Logs peer: moto's server in this process, on a free loopback port.

moto checks the event order and the 14-day / 2-hour window but not the size,
count or 24-hour-span limits, so tests inspect every PutLogEvents call too
(``watch_put_log_events``). Authentication is off unless ``require_auth()``.
"""

from __future__ import annotations

import atexit
import socket
import threading
from typing import Any

import boto3
import httpx

REGION = "us-east-1"
DUMMY_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
DUMMY_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

_server: Any = None
_server_url = ""
_lock = threading.Lock()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_url() -> str:
    """Start moto's threaded server once per test process; its URL."""
    global _server, _server_url
    with _lock:
        if _server is None:
            import logging

            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
            port = free_port()
            _server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            _server.start()
            atexit.register(_server.stop)
            _server_url = f"http://127.0.0.1:{port}"
    return _server_url


class CloudWatchPeer:
    def __init__(self, url: str, region: str = REGION) -> None:
        self.endpoint_url = url
        self.region = region
        self.client = boto3.client("logs", endpoint_url=url, region_name=region,
                                   aws_access_key_id=DUMMY_KEY_ID, aws_secret_access_key=DUMMY_SECRET)

    def reset(self) -> None:
        """Forget every group, stream and event (moto's reset API)."""
        httpx.post(self.endpoint_url + "/moto-api/reset", timeout=10).raise_for_status()

    def require_auth(self) -> None:
        """From now on unknown access keys are refused (InvalidClientTokenId / UnrecognizedClient)."""
        httpx.post(self.endpoint_url + "/moto-api/reset-auth", content=b"0", timeout=10).raise_for_status()

    def allow_any_auth(self) -> None:
        httpx.post(self.endpoint_url + "/moto-api/reset-auth", content=b"inf", timeout=10).raise_for_status()

    def create(self, group: str, stream: str | None = None) -> None:
        self.client.create_log_group(logGroupName=group)
        if stream:
            self.client.create_log_stream(logGroupName=group, logStreamName=stream)

    def streams(self, group: str) -> list[str]:
        names: list[str] = []
        kwargs: dict[str, Any] = {"logGroupName": group}
        while True:
            page = self.client.describe_log_streams(**kwargs)
            names += [s["logStreamName"] for s in page.get("logStreams", [])]
            if not page.get("nextToken"):
                return names
            kwargs["nextToken"] = page["nextToken"]

    def events(self, group: str, stream: str) -> list[dict[str, Any]]:
        """Every stored event of a stream, oldest first."""
        out: list[dict[str, Any]] = []
        token = None
        while True:
            kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream,
                                      "startFromHead": True}
            if token:
                kwargs["nextToken"] = token
            page = self.client.get_log_events(**kwargs)
            out += page["events"]
            if not page["events"] or page.get("nextForwardToken") == token:
                return out
            token = page.get("nextForwardToken")


def watch_put_log_events(client: Any) -> list[dict[str, Any]]:
    """Capture the parameters of every PutLogEvents call ``client`` makes (botocore event hook)."""
    calls: list[dict[str, Any]] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    client.meta.events.register("provide-client-params.logs.PutLogEvents", hook)
    return calls
