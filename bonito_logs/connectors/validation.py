"""Config checks that collect every problem, so one ``ValidationError`` names them all."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bonito_logs.errors import ValidationError


class Problems:
    """Collects every broken rule so one ``ValidationError`` can name them all."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field_path: str, rule: str) -> None:
        self.items.append({"field": field_path, "rule": rule})

    def string(self, source: dict[str, Any], key: str, prefix: str, *, required: bool = True,
               max_length: int = 1024) -> str | None:
        value = source.get(key)
        path = f"{prefix}.{key}"
        if value is None or value == "":
            if required:
                self.add(path, "is required")
            return None
        if not isinstance(value, str):
            self.add(path, "must be a string")
            return None
        if len(value) > max_length:
            self.add(path, f"must be at most {max_length} characters")
            return None
        if any(c in value for c in "\r\n\x00"):
            self.add(path, "must not contain line breaks or NUL")
            return None
        return value

    def boolean(self, source: dict[str, Any], key: str, prefix: str, default: bool) -> bool:
        value = source.get(key, default)
        if not isinstance(value, bool):
            self.add(f"{prefix}.{key}", "must be true or false")
            return default
        return value

    def number(self, source: dict[str, Any], key: str, prefix: str, default: float, *,
               low: float, high: float) -> float:
        value = source.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            self.add(f"{prefix}.{key}", f"must be a number from {low:g} to {high:g}")
            return default
        return float(value)

    def unknown(self, source: dict[str, Any], known: Iterable[str], prefix: str, type_name: str) -> None:
        for key in sorted(set(source) - set(known)):
            self.add(f"{prefix}.{key}", f"is not a setting of the {type_name} integration")

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationError(problems=self.items)


def ensure_dicts(config: Any, credentials: Any) -> None:
    problems = Problems()
    if not isinstance(config, dict):
        problems.add("config", "must be an object")
    if not isinstance(credentials, dict):
        problems.add("credentials", "must be an object")
    problems.raise_if_any()
