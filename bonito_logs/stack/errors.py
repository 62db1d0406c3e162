"""The one error the launcher raises: it says what failed and where to look."""

from __future__ import annotations

from bonito_logs.errors import BonitoError


class StackError(BonitoError):
    """The local stack could not be fetched, started, stopped or checked."""

    code = "stack_error"
