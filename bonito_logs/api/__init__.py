"""The Starlette API: ``create_app(settings)``; routes per resource under ``routes/``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bonito_logs.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:  # lazy: `bonito-logs --help` must not import Starlette
    if name == "create_app":
        from bonito_logs.api.app import create_app

        return create_app
    raise AttributeError(name)
