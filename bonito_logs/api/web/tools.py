"""The pages whose data arrives live from the API in the browser: exports, dashboard, integrations.

Their HTML is a frame; their JavaScript calls ``/api/logs/export``, ``/api/logs/stats``
and ``/api/logs/integrations`` with the session cookie (and the CSRF header when it
writes), so these pages can do nothing an API client with the same key could not.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bonito_logs.api.auth import Principal
from bonito_logs.api.session import Session
from bonito_logs.api.web.render import page, render


async def home(request: Request) -> Response:
    return RedirectResponse("/logs", status_code=303)


@page("member")
async def exports(request: Request, principal: Principal, session: Session) -> Response:
    return render(request, "exports.html", {"active": "exports"}, principal=principal, session=session)


@page("viewer")
async def dashboard(request: Request, principal: Principal, session: Session) -> Response:
    return render(request, "dashboard.html", {"active": "dashboard"}, principal=principal,
                  session=session)


@page("member")  # members see the list (as the API lets them); only admins get the controls
async def integrations(request: Request, principal: Principal, session: Session) -> Response:
    return render(request, "integrations.html", {"active": "integrations"}, principal=principal,
                  session=session)
