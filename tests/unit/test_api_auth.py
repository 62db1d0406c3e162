"""Bearer header parsing and the role decorator (no services: a fake key store)."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bonito_logs.api.auth import Principal, bearer_token, has_role, requires
from bonito_logs.api.errors import EXCEPTION_HANDLERS
from bonito_logs.errors import Unauthorized
from bonito_logs.store.keys import ApiKey

ORG = "0b5e8a59-7d2f-4d38-9c55-2d3f7f0e8a11"


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header(header):
    with pytest.raises(Unauthorized, match="missing Authorization"):
        bearer_token(header)


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Token abc", "bnt_abc", "Bearerabc"])
def test_wrong_scheme(header):
    with pytest.raises(Unauthorized, match="scheme"):
        bearer_token(header)


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b"])
def test_malformed_bearer(header):
    with pytest.raises(Unauthorized, match="malformed"):
        bearer_token(header)


@pytest.mark.parametrize("header", ["Bearer bnt_x", "bearer bnt_x", "BEARER   bnt_x  "])
def test_bearer_token_scheme_is_case_insensitive(header):
    assert bearer_token(header) == "bnt_x"


def test_role_order():
    assert has_role("admin", "viewer") and has_role("admin", "member") and has_role("admin", "admin")
    assert has_role("member", "viewer") and has_role("member", "member")
    assert not has_role("member", "admin")
    assert has_role("viewer", "viewer")
    assert not has_role("viewer", "member") and not has_role("viewer", "admin")
    assert not has_role("superuser", "viewer")


def test_requires_rejects_unknown_roles():
    with pytest.raises(ValueError):
        requires("owner")


class FakeKeys:
    """token == role name → a key with that role; anything else is unknown."""

    async def authenticate(self, token: str) -> ApiKey:
        if token in ("viewer", "member", "admin"):
            return ApiKey(key_id=f"k{token}", org_id=ORG, role=token)
        raise Unauthorized("invalid API key")


def app_with(minimum: str) -> Starlette:
    @requires(minimum)
    async def endpoint(request: Request, principal: Principal) -> JSONResponse:
        return JSONResponse({"org_id": principal.org_id, "role": principal.role})

    app = Starlette(routes=[Route("/x", endpoint)], exception_handlers=EXCEPTION_HANDLERS)
    app.state.services = SimpleNamespace(keys=FakeKeys())
    return app


@pytest.mark.parametrize("minimum", ["viewer", "member", "admin"])
@pytest.mark.parametrize("role", ["viewer", "member", "admin"])
async def test_requires_checks_the_role(minimum, role):
    app = app_with(minimum)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/x", headers={"Authorization": f"Bearer {role}"})
    if has_role(role, minimum):
        assert response.status_code == 200
        assert response.json() == {"org_id": ORG, "role": role}
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}])
async def test_requires_answers_401_with_www_authenticate(headers):
    app = app_with("viewer")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/x", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "unauthorized"


def test_decorated_endpoint_remembers_its_role():
    @requires("member")
    async def endpoint(request, principal):  # pragma: no cover - not called
        return None

    assert endpoint.min_role == "member"
    assert endpoint.__name__ == "endpoint"
