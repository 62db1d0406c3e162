"""Rendering pages: the Jinja environment, the signed-in principal of a page, security headers.

Pages are not API operations: they are ``Page`` routes, which the OpenAPI document
(built from ``Route`` objects) leaves out on purpose. Every page reads through the
same services as the API, with the principal of the session cookie.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from bonito_logs.api.auth import Principal, has_role
from bonito_logs.api.session import Session, clear_session_cookie, read_session
from bonito_logs.errors import Unauthorized, Unavailable

API_DIR = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = API_DIR / "templates"
STATIC_DIR = API_DIR / "static"
LOGIN_PATH = "/logs/login"

# Everything is served by us: no inline script, no inline style attribute, no other origin.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class Page(BaseRoute):
    """An HTML page route. Not a ``Route``, so not an API operation of the OpenAPI document."""

    def __init__(self, path: str, endpoint: Callable[[Request], Awaitable[Response]],
                 methods: tuple[str, ...] = ("GET",), name: str | None = None) -> None:
        self.route = Route(path, endpoint, methods=list(methods), name=name)
        self.path = path

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return self.route.matches(scope)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        return self.route.url_path_for(name, **path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.route.handle(scope, receive, send)


def _asset_versions() -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:10]
            for path in STATIC_DIR.iterdir() if path.is_file()}


def _static(name: str) -> str:
    return f"/static/{name}?v={_VERSIONS.get(name, '0')}"


def _json_script(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>`` breakout)."""
    text = orjson.dumps(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def fmt_duration(ms: float | None) -> str:
    if ms is None:
        return ""
    if ms == 0:
        return "0 ms"
    if ms < 1:
        return f"{ms * 1000:.0f} µs"
    if ms < 1000:
        return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 60_000:.1f} min"


def fmt_cost(cost: float | None) -> str:
    if cost is None:
        return ""
    if cost == 0:
        return "$0"
    if abs(cost) < 0.01:
        return f"${cost:.5f}".rstrip("0")
    return f"${cost:,.2f}" if abs(cost) >= 1 else f"${cost:.4f}"


def fmt_count(n: int | float) -> str:
    return f"{n:,}"


def fmt_utc(iso: str | None) -> str:
    """``2024-05-01 12:00:00.123 UTC`` (what a page shows before the browser localises it)."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                         autoescape=jinja2.select_autoescape(default=True),
                         undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.globals.update(static=_static, json_script=_json_script)
ENV.filters.update(duration=fmt_duration, cost=fmt_cost, count=fmt_count, utc=fmt_utc,
                   finite=_finite, urlquote=lambda s: quote(str(s), safe=""))
_VERSIONS = _asset_versions()


def render(request: Request, template: str, context: dict[str, Any], *,
           principal: Principal | None = None, session: Session | None = None,
           status: int = 200) -> HTMLResponse:
    base: dict[str, Any] = {
        "request": request,
        "principal": principal,
        "csrf": session.csrf if session else "",
        "can_export": principal is not None and has_role(principal.role, "member"),
        "can_integrate": principal is not None and has_role(principal.role, "admin"),
        "key_name": getattr(request.state, "key_name", None),
        "active": "",
    }
    html = ENV.get_template(template).render({**base, **context})
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def login_redirect(request: Request, message: str | None = None) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"{LOGIN_PATH}?next={quote(target, safe='')}"
    if message:
        location += f"&reason={quote(message, safe='')}"
    response = RedirectResponse(location, status_code=303)
    clear_session_cookie(response, request.app.state.settings)
    return response


PageHandler = Callable[[Request, Principal, Session], Awaitable[Response]]


def page(minimum: str = "viewer") -> Callable[[PageHandler], Callable[[Request], Awaitable[Response]]]:
    """Decorator of a page: the session's live key (else the sign-in page), then the role.

    A key with too low a role gets a 403 page that says which role is needed.
    """

    def decorate(handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = read_session(request)
            if session is None:
                return login_redirect(request)
            try:
                key = await request.app.state.services.keys.authenticate(session.token)
            except Unauthorized as exc:
                return login_redirect(request, str(exc))
            except Unavailable as exc:
                return render(request, "error.html", {"title": "Service unavailable",
                                                      "message": str(exc)}, status=503)
            principal = Principal.from_key(key)
            request.state.principal = principal
            request.state.key_name = key.name
            if not has_role(principal.role, minimum):
                return render(request, "error.html", {
                    "title": "Not allowed",
                    "message": f"This page needs the {minimum} role; your key has the "
                               f"{principal.role} role."}, principal=principal, session=session,
                    status=403)
            return await handler(request, principal, session)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return decorate
