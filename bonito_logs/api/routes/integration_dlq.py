"""An integration's dead-letter queue: list what its destination refused, and replay it.

Records land there when the destination will never accept them as they are (bad
credentials, invalid or oversize data), with the destination's reason. Once the cause
is fixed (new credentials, say), a replay sends them through the integration's
forwarders again; those that fail again come back with the new reason.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bonito_logs.api.auth import Principal
from bonito_logs.api.openapi import operation, ref, routes
from bonito_logs.api.services import services
from bonito_logs.errors import ValidationError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_ID = {"integration_id": "the integration's id"}
_TRUE, _FALSE = {"1", "true", "yes"}, {"0", "false", "no", ""}


def _page_params(request: Request) -> tuple[int | None, int, bool]:
    params = request.query_params
    problems = []
    unknown = sorted(set(params) - {"after", "limit", "include_replayed"})
    problems += [{"field": name, "rule": "is not a known query parameter"} for name in unknown]
    after = limit = None
    try:
        after = int(params["after"]) if params.get("after") not in (None, "") else None
        if after is not None and after < -1:
            raise ValueError
    except ValueError:
        problems.append({"field": "after", "rule": "must be an offset (an integer >= -1)"})
    try:
        limit = int(params.get("limit") or DEFAULT_LIMIT)
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError
    except ValueError:
        problems.append({"field": "limit", "rule": f"must be an integer from 1 to {MAX_LIMIT}"})
    flag = (params.get("include_replayed") or "").lower()
    if flag not in _TRUE | _FALSE:
        problems.append({"field": "include_replayed", "rule": "must be true or false"})
    if problems:
        raise ValidationError(problems=problems)
    return after, limit or DEFAULT_LIMIT, flag in _TRUE


@operation("GET", "/api/logs/integrations/{integration_id}/dlq", tag="integrations", role="member",
           summary="The integration's dead letters: reason, record id, time, a preview",
           description="Oldest first, `limit` (1-500, default 50) per page; pass the answer's "
                       "`next_after` as `after` for the next page. Only records not replayed yet, "
                       "unless `include_replayed=true`.",
           params=_ID, ok=ref("DeadLetterPage"), ok_description="One page of dead letters")
async def list_dead_letters(request: Request, principal: Principal) -> Response:
    svc = services(request)
    after, limit, include_replayed = _page_params(request)
    integration, _ = await svc.integrations.get(request.path_params["integration_id"], principal.org_id)
    page = await svc.forwarding.dead_letters(integration, after=after, limit=limit,
                                             include_replayed=include_replayed)
    return JSONResponse(page)


@operation("POST", "/api/logs/integrations/{integration_id}/dlq/replay", tag="integrations",
           role="admin", summary="Send the dead letters through the integration's forwarders again",
           description="Every dead letter not replayed yet (up to 100,000 per call; `remaining` "
                       "says how many are left) is queued again for delivery through the same "
                       "forwarder path; `replayed` says how many. Follow the integration's "
                       "`state.replay_pending` and `state.records_in_dlq`.",
           params=_ID, ok=ref("ReplayResult"), ok_status=202,
           ok_description="Queued again for delivery")
async def replay_dead_letters(request: Request, principal: Principal) -> Response:
    svc = services(request)
    integration, _ = await svc.integrations.get(request.path_params["integration_id"], principal.org_id)
    return JSONResponse(await svc.forwarding.replay(integration), status_code=202)


# The longer path first (Starlette matches in order; these two never overlap, but keep it so).
ROUTES = routes(replay_dead_letters, list_dead_letters)
