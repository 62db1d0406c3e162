"""Field mappings behind the convenience methods (``emit_gateway_request`` and friends).

Each function turns domain arguments into the keyword arguments of ``emit``.
``LogService`` and ``SyncLogService`` call them and share their docstrings.
Extra keyword arguments (``**common``: trace_id, timestamp, message, resource_id,
severity, ...) are passed through and win over the mapped value, except
``metadata``, which is merged (the mapped keys win), and ``log_type``, which is
fixed by the method.
"""

from __future__ import annotations

from typing import Any

from bonito_logs.errors import ValidationError

_SUCCESS_WORDS = frozenset({"success", "ok"})
_ERROR_SUFFIXES = ("_error", "_failed", "_failure")


def is_success_status(status: Any) -> bool:
    """True for HTTP statuses below 400 (int or digit string), ``"success"``/``"ok"``, True or None."""
    if status is None or status is True:
        return True
    if status is False:
        return False
    if isinstance(status, int | float):
        return status < 400
    if isinstance(status, str):
        text = status.strip().lower()
        if text.isdigit():
            return int(text) < 400
        return text in _SUCCESS_WORDS
    return False


def is_error_event(event_type: Any) -> bool:
    """``"error"`` itself, or an event type ending in ``_error``, ``_failed`` or ``_failure``."""
    return isinstance(event_type, str) and (
        event_type == "error" or event_type.endswith(_ERROR_SUFFIXES))


def _tokens(event_type: Any) -> set[str]:
    return set(event_type.split("_")) if isinstance(event_type, str) else set()


def admin_action_for(event_type: Any) -> str:
    """create for invite/create/add events, delete for delete/remove/revoke, else update."""
    words = _tokens(event_type)
    if words & {"invite", "create", "add"}:
        return "create"
    if words & {"delete", "remove", "revoke"}:
        return "delete"
    return "update"


def kb_action_for(event_type: Any) -> str:
    """search for search/query events, create for upload/ingestion, delete for delete/remove, else read."""
    words = _tokens(event_type)
    if words & {"search", "query"}:
        return "search"
    if words & {"upload", "ingestion", "ingest", "create"}:
        return "create"
    if words & {"delete", "remove"}:
        return "delete"
    return "read"


def _combine(mapped: dict[str, Any], mapped_meta: dict[str, Any], metadata: Any,
             common: dict[str, Any]) -> dict[str, Any]:
    if "log_type" in common:
        raise TypeError("log_type is fixed by the convenience method; use emit() for another one")
    if "metadata" in common:
        if metadata is not None:
            raise TypeError("metadata given twice")
        metadata = common.pop("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValidationError("metadata", "must be a JSON object (a dict)")
    fields = {**mapped, **common}
    merged = {**metadata, **mapped_meta} if metadata else mapped_meta
    fields["metadata"] = merged or None
    return fields


def gateway_request(org_id: Any, user_id: Any, model: Any, provider: Any, status: Any,
                    duration_ms: Any, cost: Any, input_tokens: Any, output_tokens: Any,
                    **common: Any) -> dict[str, Any]:
    """One model request through the AI gateway.

    Mapping:

    - log_type ``"gateway"``; action ``"execute"``; resource_type ``"model"``, resource_id = model
    - event_type ``"request"`` when the status is a success, ``"error"`` otherwise. Success:
      an HTTP status below 400 (int or digit string), ``"success"`` or ``"ok"`` (any case),
      True or None; anything else (e.g. 429, 500, ``"timeout"``) is an error.
    - severity ``"info"`` on success, ``"error"`` otherwise
    - user_id, duration_ms, cost as given
    - metadata: model, provider, status, input_tokens, output_tokens and total_tokens
      (input + output, counting a missing side as 0; None when both are missing),
      merged over any ``metadata=`` passed
    - message (unless given): ``"POST gpt-4o via openai → 200 in 123 ms"``; the verb is
      ``metadata["method"]`` when passed, else POST
    """
    ok = is_success_status(status)
    total = None
    if input_tokens is not None or output_tokens is not None:
        total = (input_tokens or 0) + (output_tokens or 0)
    meta = {"model": model, "provider": provider, "status": status, "input_tokens": input_tokens,
            "output_tokens": output_tokens, "total_tokens": total}
    extra = common.get("metadata")
    verb = extra.get("method", "POST") if isinstance(extra, dict) else "POST"
    took = f" in {duration_ms:.0f} ms" if isinstance(duration_ms, int | float) else ""
    mapped = {
        "org_id": org_id, "log_type": "gateway", "event_type": "request" if ok else "error",
        "severity": "info" if ok else "error", "user_id": user_id, "resource_type": "model",
        "resource_id": model, "action": "execute", "duration_ms": duration_ms, "cost": cost,
        "message": f"{verb} {model} via {provider} → {status}{took}",
    }
    return _combine(mapped, meta, None, common)


def auth_event(org_id: Any, event_type: Any, user_id: Any, success: Any, metadata: Any = None,
               **common: Any) -> dict[str, Any]:
    """A sign-in, sign-out, token or permission check.

    Mapping:

    - log_type ``"auth"``; event_type as given (e.g. ``"login"``, ``"token_refresh"``)
    - severity ``"info"`` if success else ``"warn"``
    - user_id as given; resource_type ``"user"``, resource_id = user_id; action None
    - metadata: ``{"success": bool(success)}`` merged over ``metadata``
    """
    mapped = {
        "org_id": org_id, "log_type": "auth", "event_type": event_type,
        "severity": "info" if success else "warn", "user_id": user_id,
        "resource_type": "user", "resource_id": user_id, "action": None,
    }
    return _combine(mapped, {"success": bool(success)}, metadata, common)


def admin_action(org_id: Any, admin_user_id: Any, event_type: Any, target_user_id: Any,
                 metadata: Any = None, **common: Any) -> dict[str, Any]:
    """An administrator acting on a user (invite, role change, removal, ...).

    Mapping:

    - log_type ``"admin"``; event_type as given; severity ``"info"``
    - user_id = admin_user_id (who acted); resource_type ``"user"``, resource_id = target_user_id
    - action from the words of event_type: ``"create"`` for invite/create/add
      (``user_invite``), ``"delete"`` for delete/remove/revoke (``user_delete``,
      ``member_remove``), else ``"update"`` (``role_change``)
    - metadata as given
    """
    mapped = {
        "org_id": org_id, "log_type": "admin", "event_type": event_type, "severity": "info",
        "user_id": admin_user_id, "resource_type": "user", "resource_id": target_user_id,
        "action": admin_action_for(event_type),
    }
    return _combine(mapped, {}, metadata, common)


def kb_event(org_id: Any, event_type: Any, user_id: Any, kb_id: Any, duration_ms: Any = None,
             metadata: Any = None, **common: Any) -> dict[str, Any]:
    """A knowledge-base operation (search, upload, ingestion, deletion, ...).

    Mapping:

    - log_type ``"kb"``; event_type as given; resource_type ``"kb"``, resource_id = kb_id
    - action from the words of event_type: ``"search"`` for search/query, ``"create"``
      for upload/ingestion/ingest/create, ``"delete"`` for delete/remove, else ``"read"``
    - severity ``"error"`` when event_type is ``"error"`` (or ends in ``_error``,
      ``_failed``, ``_failure``), else ``"info"``
    - user_id, duration_ms, metadata as given
    """
    mapped = {
        "org_id": org_id, "log_type": "kb", "event_type": event_type,
        "severity": "error" if is_error_event(event_type) else "info", "user_id": user_id,
        "resource_type": "kb", "resource_id": kb_id, "action": kb_action_for(event_type),
        "duration_ms": duration_ms,
    }
    return _combine(mapped, {}, metadata, common)


def agent_event(org_id: Any, event_type: Any, user_id: Any, agent_id: Any, duration_ms: Any = None,
                cost: Any = None, metadata: Any = None, **common: Any) -> dict[str, Any]:
    """An agent run or step (start, tool call, finish, error).

    Mapping:

    - log_type ``"agent"``; event_type as given; action ``"execute"``
    - resource_type ``"agent"``, resource_id = agent_id
    - severity ``"error"`` when event_type is ``"error"`` (or ends in ``_error``,
      ``_failed``, ``_failure``), else ``"info"``
    - user_id, duration_ms, cost, metadata as given
    """
    mapped = {
        "org_id": org_id, "log_type": "agent", "event_type": event_type,
        "severity": "error" if is_error_event(event_type) else "info", "user_id": user_id,
        "resource_type": "agent", "resource_id": agent_id, "action": "execute",
        "duration_ms": duration_ms, "cost": cost,
    }
    return _combine(mapped, {}, metadata, common)
