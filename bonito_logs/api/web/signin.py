"""Sign in with an API key, sign out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bonito_logs.api.session import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    Session,
    clear_session_cookie,
    csrf_ok,
    login_nonce_ok,
    new_login_nonce,
    read_session,
    set_login_cookie,
    set_session_cookie,
)
from bonito_logs.api.web.render import LOGIN_PATH, render
from bonito_logs.errors import Unauthorized, Unavailable

HOME = "/logs"
MAX_FORM_KEY_CHARS = 400


def safe_next(target: str | None) -> str:
    """Only a path of this site: no scheme, no host, no ``//`` or ``/\\`` (open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return HOME
    if any(ch in target for ch in "\r\n\t") or target.startswith(LOGIN_PATH):
        return HOME
    return target


def _form(request: Request, *, error: str | None = None, next_url: str = HOME,
          status: int = 200) -> Response:
    nonce = new_login_nonce()
    response = render(request, "login.html", {
        "error": error, "next_url": next_url, "nonce": nonce,
        "reason": request.query_params.get("reason"),
    }, status=status)
    set_login_cookie(response, nonce, request.app.state.settings)
    return response


async def login_page(request: Request) -> Response:
    return _form(request, next_url=safe_next(request.query_params.get("next")))


async def login_submit(request: Request) -> Response:
    form = await request.form()
    next_url = safe_next(str(form.get("next") or ""))
    if not login_nonce_ok(request, str(form.get(CSRF_FIELD) or "")):
        return _form(request, next_url=next_url, status=403,
                     error="The sign-in form expired or was not sent by this site. Please try again.")
    token = str(form.get("api_key") or "").strip()
    if not token or len(token) > MAX_FORM_KEY_CHARS:
        return _form(request, next_url=next_url, status=400, error="Paste an API key (bnt_…).")
    try:
        await request.app.state.services.keys.authenticate(token)
    except Unauthorized as exc:
        return _form(request, next_url=next_url, status=401, error=f"Sign-in failed: {exc}.")
    except Unavailable as exc:
        return _form(request, next_url=next_url, status=503,
                     error=f"Cannot check the key right now: {exc}")
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(response, Session.start(token), request.app.state.settings)
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
    return response


async def logout(request: Request) -> Response:
    """POST only, with the session's CSRF token: a link elsewhere cannot sign anyone out."""
    session = read_session(request)
    form = await request.form()
    if session is not None and not csrf_ok(session, str(form.get(CSRF_FIELD) or "")):
        return render(request, "error.html", {"title": "Not signed out",
                                              "message": "The sign-out form was not sent by this "
                                                         "site (CSRF token missing or wrong)."},
                      status=403)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    clear_session_cookie(response, request.app.state.settings)
    return response
