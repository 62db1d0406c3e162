"""Destination connectors: Datadog, Splunk HEC, CloudWatch Logs and signed webhooks.

Each is a ``Connector``: ``validate`` its settings, ``batches`` records within the
destination's limits, ``send`` one batch and classify the outcome, ``check`` the
settings with a real request. ``RetryPolicy`` and ``CircuitBreaker`` are for the
forwarder that drives them.
"""

from __future__ import annotations

from typing import Any

import httpx

from bonito_logs.config import Settings
from bonito_logs.connectors.base import (
    Batch,
    Batching,
    CheckResult,
    Connector,
    HttpConnector,
    Rejected,
    SendResult,
)
from bonito_logs.connectors.cloudwatch import CloudWatchConnector
from bonito_logs.connectors.datadog import DatadogConnector
from bonito_logs.connectors.resilience import CircuitBreaker, RetryPolicy, backoff_delay
from bonito_logs.connectors.splunk import SplunkConnector
from bonito_logs.connectors.webhook import WebhookConnector
from bonito_logs.errors import ValidationError

CONNECTORS: dict[str, type[Connector]] = {
    cls.type_name: cls
    for cls in (DatadogConnector, SplunkConnector, CloudWatchConnector, WebhookConnector)
}
TYPES: tuple[str, ...] = tuple(CONNECTORS)


def connector_class(type_name: str) -> type[Connector]:
    """The connector class of an integration type; ``ValidationError`` (field ``type``) if unknown."""
    try:
        return CONNECTORS[type_name]
    except (KeyError, TypeError):
        raise ValidationError("type", "must be one of " + ", ".join(TYPES)) from None


def validate(type_name: str, config: dict[str, Any], credentials: dict[str, Any], *,
             settings: Settings | None = None) -> None:
    """Check an integration's settings; the error names every problem."""
    connector_class(type_name).validate(config, credentials, settings=settings)


def create_connector(type_name: str, config: dict[str, Any], credentials: dict[str, Any], *,
                     org_id: str, settings: Settings | None = None,
                     http: httpx.AsyncClient | None = None) -> Connector:
    """A ready connector (no network traffic until ``send`` or ``check``)."""
    return connector_class(type_name)(config, credentials, org_id=org_id, settings=settings, http=http)


__all__ = [
    "CONNECTORS", "TYPES", "Batch", "Batching", "CheckResult", "CircuitBreaker",
    "CloudWatchConnector", "Connector", "DatadogConnector", "HttpConnector", "Rejected",
    "RetryPolicy", "SendResult", "SplunkConnector", "WebhookConnector", "backoff_delay",
    "connector_class", "create_connector", "validate",
]
