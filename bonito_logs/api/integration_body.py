"""Reading the bodies of the integration routes: every problem named, secrets never echoed.

Types and their ``config``/``credentials`` rules are the connectors' own
(``connectors.validate``), which also refuses destinations that resolve to private,
loopback, link-local or metadata addresses unless ``BONITO_ALLOW_PRIVATE_DESTINATIONS``
is set. That check resolves host names, so it runs in a thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from bonito_logs import connectors
from bonito_logs.config import Settings
from bonito_logs.errors import ValidationError
from bonito_logs.store.integration_filters import parse_filters

CREATE_KEYS: tuple[str, ...] = ("name", "integration_type", "config", "credentials", "enabled",
                                "filters")
PATCH_KEYS: tuple[str, ...] = ("name", "config", "credentials", "filters", "enabled")
MAX_NAME_LENGTH = 200


@dataclass
class IntegrationInput:
    """A create body, checked. ``credentials`` are plain text: encrypt them before storing."""

    name: str
    integration_type: str
    config: dict[str, Any]
    credentials: dict[str, Any]
    enabled: bool
    filters: dict[str, Any]


def _unknown(body: dict[str, Any], allowed: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"field": key, "rule": "is not a known field"} for key in sorted(set(body) - set(allowed))]


def _name(value: Any, problems: list[dict[str, str]]) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_LENGTH:
        problems.append({"field": "name", "rule": f"must be a string of 1 to {MAX_NAME_LENGTH} characters"})
        return ""
    if any(ord(c) < 32 for c in value):
        problems.append({"field": "name", "rule": "must not contain control characters"})
        return ""
    return value.strip()


def _enabled(body: dict[str, Any], problems: list[dict[str, str]]) -> bool:
    value = body.get("enabled", True)
    if not isinstance(value, bool):
        problems.append({"field": "enabled", "rule": "must be true or false"})
        return True
    return value


def _objects(body: dict[str, Any], keys: tuple[str, ...], problems: list[dict[str, str]]) -> bool:
    good = True
    for key in keys:
        if key in body and not isinstance(body[key], dict):
            problems.append({"field": key, "rule": "must be an object"})
            good = False
    return good


async def check_settings(integration_type: str, config: dict[str, Any], credentials: dict[str, Any],
                         settings: Settings) -> list[dict[str, str]]:
    """The connector's problems with these settings (SSRF guard included), or none."""
    try:
        await asyncio.to_thread(connectors.validate, integration_type, config, credentials,
                                settings=settings)
    except ValidationError as exc:
        return list(exc.problems)
    return []


async def parse_create(body: dict[str, Any], settings: Settings) -> IntegrationInput:
    problems = _unknown(body, CREATE_KEYS)
    if problems:
        raise ValidationError(problems=problems)
    for key in ("name", "integration_type", "config", "credentials"):
        if key not in body:
            problems.append({"field": key, "rule": "is required"})
    name = _name(body.get("name"), problems) if "name" in body else ""
    kind = body.get("integration_type")
    if "integration_type" in body and kind not in connectors.TYPES:
        problems.append({"field": "integration_type", "rule": "must be one of " + ", ".join(connectors.TYPES)})
    enabled = _enabled(body, problems)
    filters = parse_filters(body.get("filters"), problems)
    objects_ok = _objects(body, ("config", "credentials"), problems)
    config, credentials = body.get("config"), body.get("credentials")
    if kind in connectors.TYPES and objects_ok and config is not None and credentials is not None:
        problems.extend(await check_settings(kind, config, credentials, settings))
    if problems:
        raise ValidationError(problems=problems)
    return IntegrationInput(name, kind, config, credentials, enabled, filters)


def parse_patch(body: dict[str, Any]) -> dict[str, Any]:
    """The changes a PATCH asks for (keys of ``PATCH_KEYS``), checked on their own.

    The settings are checked together with the stored ones by the route
    (``check_settings``), once it has decrypted what it needs.
    """
    problems = []
    if "integration_type" in body:
        problems.append({"field": "integration_type",
                         "rule": "cannot be changed; create a new integration instead"})
    problems += _unknown({k: v for k, v in body.items() if k != "integration_type"}, PATCH_KEYS)
    if problems:
        raise ValidationError(problems=problems)
    if not body:
        raise ValidationError("body", "must change at least one of " + ", ".join(PATCH_KEYS))
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = _name(body["name"], problems)
    if "enabled" in body:
        changes["enabled"] = _enabled(body, problems)
    if "filters" in body:
        changes["filters"] = parse_filters(body["filters"], problems)
    if _objects(body, ("config", "credentials"), problems):
        changes.update({k: body[k] for k in ("config", "credentials") if k in body})
    if problems:
        raise ValidationError(problems=problems)
    return changes
