"""Browser sessions: the API key in a sealed, HttpOnly cookie, and CSRF tokens tied to it.

The cookie is a Fernet token (AES-128-CBC + HMAC-SHA256, timestamped) under a key
derived from ``settings.secret_key`` for this purpose only, so it is both signed
(any change is refused) and opaque (a copied cookie does not reveal the API key,
and stops working after ``session_max_age_s``). It holds the API key the user
pasted and a random CSRF secret; the key is authenticated against the key store
on every request exactly like a bearer header, so revoking it ends the session
at once.

CSRF: a request authenticated by the cookie alone may only read. Anything else
(POST, PATCH, PUT, DELETE) must also present the session's CSRF secret, as the
``X-CSRF-Token`` header (JavaScript) or the ``csrf_token`` form field (HTML
forms). Requests with an ``Authorization`` header never use the cookie and need
no token: a page of another site cannot set that header.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache

import orjson
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import Request
from starlette.responses import Response

from bonito_logs.config import Settings
from bonito_logs.errors import Forbidden, Unauthorized
from bonito_logs.store.keys import ApiKey

SESSION_COOKIE = "bonito_session"
LOGIN_COOKIE = "bonito_login"  # double-submit nonce of the sign-in form (login CSRF)
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_NONCE_MAX_AGE_S = 3600
_CONTEXT = b"bonito-logs/web-session/v1"
_MAX_COOKIE_CHARS = 4000


class CsrfError(Forbidden):
    code = "csrf_failed"


@dataclass(frozen=True)
class Session:
    """What the cookie holds: the API key and the CSRF secret of this sign-in."""

    token: str
    csrf: str

    @classmethod
    def start(cls, token: str) -> Session:
        """A new session; a fresh CSRF secret on every sign-in (no fixation)."""
        return cls(token=token, csrf=secrets.token_urlsafe(32))


@lru_cache(maxsize=8)
def _fernet(secret: str) -> Fernet:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CONTEXT).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(raw))


def seal(session: Session, settings: Settings) -> str:
    """The cookie value for ``session``."""
    payload = orjson.dumps({"k": session.token, "c": session.csrf})
    return _fernet(settings.secret_key).encrypt(payload).decode("ascii")


def unseal(value: str | None, settings: Settings) -> Session | None:
    """The session in a cookie value; ``None`` if absent, altered, foreign or expired."""
    if not value or len(value) > _MAX_COOKIE_CHARS:
        return None
    try:
        plain = _fernet(settings.secret_key).decrypt(value.encode("ascii"),
                                                     ttl=settings.session_max_age_s)
        data = orjson.loads(plain)
    except (InvalidToken, UnicodeEncodeError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("k", "c")):
        return None
    return Session(token=data["k"], csrf=data["c"])


def csrf_ok(session: Session, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(session.csrf.encode(), str(presented).encode())


def has_session_cookie(request: Request) -> bool:
    return SESSION_COOKIE in request.cookies


def read_session(request: Request) -> Session | None:
    return unseal(request.cookies.get(SESSION_COOKIE), request.app.state.settings)


async def session_key(request: Request) -> ApiKey:
    """The live key of a cookie-authenticated API request; the CSRF header when it writes."""
    session = read_session(request)
    if session is None:
        raise Unauthorized("the web session is invalid or has expired: sign in again")
    if request.method not in SAFE_METHODS and not csrf_ok(session, request.headers.get(CSRF_HEADER)):
        raise CsrfError("a request authenticated by the session cookie must send its CSRF token "
                        "in the X-CSRF-Token header")
    return await request.app.state.services.keys.authenticate(session.token)


def set_session_cookie(response: Response, session: Session, settings: Settings) -> None:
    response.set_cookie(SESSION_COOKIE, seal(session, settings), max_age=settings.session_max_age_s,
                        path="/", httponly=True, samesite="lax", secure=settings.session_cookie_secure)


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=settings.session_cookie_secure)


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


def set_login_cookie(response: Response, nonce: str, settings: Settings) -> None:
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=LOGIN_NONCE_MAX_AGE_S, path="/logs/login",
                        httponly=True, samesite="strict", secure=settings.session_cookie_secure)


def login_nonce_ok(request: Request, presented: str | None) -> bool:
    expected = request.cookies.get(LOGIN_COOKIE)
    return bool(expected) and bool(presented) and hmac.compare_digest(
        expected.encode(), str(presented).encode())
