"""Who is calling: bearer API keys (or the web UI's session cookie), their org, and the
minimum role a route needs.

The org always comes from the key, never from the request. Roles are ordered
``viewer < member < admin``; a route declares the least role it accepts with
``@requires("member")`` and receives the caller as its second argument.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from bonito_logs.api.session import has_session_cookie, session_key
from bonito_logs.errors import Forbidden, Unauthorized
from bonito_logs.store.keys import ROLE_RANK, ROLES, ApiKey

Endpoint = Callable[[Request], Awaitable[Response]]
AuthedEndpoint = Callable[[Request, "Principal"], Awaitable[Response]]


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    key_id: str
    org_id: str
    role: str

    @classmethod
    def from_key(cls, key: ApiKey) -> Principal:
        return cls(key_id=key.key_id, org_id=key.org_id, role=key.role)


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; ``Unauthorized`` otherwise."""
    if header is None or not header.strip():
        raise Unauthorized("missing Authorization header: send 'Authorization: Bearer <api key>'")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer":
        raise Unauthorized("unsupported authorization scheme: use 'Bearer <api key>'")
    if not token or " " in token:
        raise Unauthorized("malformed Authorization header: use 'Bearer <api key>'")
    return token


def has_role(role: str, minimum: str) -> bool:
    return ROLE_RANK.get(role, -1) >= ROLE_RANK[minimum]


def check_role(principal: Principal, minimum: str) -> None:
    if not has_role(principal.role, minimum):
        raise Forbidden(f"this action needs the {minimum} role; this key has the {principal.role} role")


async def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization")
    if header is None and has_session_cookie(request):  # the web UI (api/session.py: CSRF)
        return Principal.from_key(await session_key(request))
    token = bearer_token(header)
    key = await request.app.state.services.keys.authenticate(token)
    return Principal.from_key(key)


def requires(minimum: str) -> Callable[[AuthedEndpoint], Endpoint]:
    """Decorator: authenticate the caller (401) and check their role (403) before the route runs."""
    if minimum not in ROLE_RANK:
        raise ValueError(f"unknown role {minimum!r}: expected one of {', '.join(ROLES)}")

    def decorate(endpoint: AuthedEndpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            principal = await authenticate(request)
            check_role(principal, minimum)
            request.state.principal = principal
            return await endpoint(request, principal)

        guarded.min_role = minimum  # type: ignore[attr-defined]
        return guarded

    return decorate
