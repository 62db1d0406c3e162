"""The web session cookie (sealed, tamper-proof, expiring) and CSRF on cookie-authenticated writes."""

from __future__ import annotations

import time
from types import SimpleNamespace

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bonito_logs.api.auth import Principal, requires
from bonito_logs.api.errors import EXCEPTION_HANDLERS
from bonito_logs.api.session import SESSION_COOKIE, Session, csrf_ok, seal, unseal
from bonito_logs.api.web.signin import safe_next
from bonito_logs.config import Settings
from bonito_logs.errors import Unauthorized
from bonito_logs.store.keys import ApiKey

ORG = "0b5e8a59-7d2f-4d38-9c55-2d3f7f0e8a11"
SETTINGS = Settings(secret_key="unit-test-secret")


class FakeKeys:
    """token == role name → a live key with that role; ``revoked`` → revoked; else unknown."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()

    async def authenticate(self, token: str) -> ApiKey:
        if token in self.revoked:
            raise Unauthorized("API key has been revoked")
        if token in ("viewer", "member", "admin"):
            return ApiKey(key_id=f"k{token}", org_id=ORG, role=token, name=f"{token} key")
        raise Unauthorized("invalid API key")


def test_seal_round_trip_and_the_key_is_not_readable():
    session = Session.start("bnt_abcdefghijkl_" + "s" * 43)
    value = seal(session, SETTINGS)
    assert unseal(value, SETTINGS) == session
    assert "bnt_" not in value and session.token not in value and session.csrf not in value


def test_every_sign_in_gets_a_new_csrf_secret():
    assert Session.start("admin").csrf != Session.start("admin").csrf


@pytest.mark.parametrize("position", [10, 40, 80, -5])
def test_tampered_cookie_is_refused(position):
    value = seal(Session.start("admin"), SETTINGS)
    flipped = value[:position] + ("A" if value[position] != "A" else "B") + value[position + 1:]
    assert unseal(flipped, SETTINGS) is None


@pytest.mark.parametrize("value", [None, "", "garbage", "x" * 5000, "gAAAAA" + "=" * 10])
def test_garbage_is_refused(value):
    assert unseal(value, SETTINGS) is None


def test_another_secret_key_cannot_open_it():
    value = seal(Session.start("admin"), SETTINGS)
    assert unseal(value, SETTINGS.replace(secret_key="another-secret")) is None


def test_cookie_expires_after_session_max_age(monkeypatch):
    settings = SETTINGS.replace(session_max_age_s=60)
    value = seal(Session.start("admin"), settings)
    real = time.time()
    monkeypatch.setattr("cryptography.fernet.time.time", lambda: real + 30)
    assert unseal(value, settings) is not None
    monkeypatch.setattr("cryptography.fernet.time.time", lambda: real + 61)
    assert unseal(value, settings) is None


def test_csrf_comparison():
    session = Session.start("admin")
    assert csrf_ok(session, session.csrf)
    assert not csrf_ok(session, None) and not csrf_ok(session, "") and not csrf_ok(session, "nope")


@pytest.mark.parametrize("target, expected", [
    ("/logs?severity=error", "/logs?severity=error"), ("/logs/trace/t-1", "/logs/trace/t-1"),
    ("https://evil.example/", "/logs"), ("//evil.example", "/logs"), ("/\\evil.example", "/logs"),
    ("javascript:alert(1)", "/logs"), ("", "/logs"), (None, "/logs"), ("/logs/login", "/logs"),
    ("/x\r\nSet-Cookie: a=b", "/logs"),
])
def test_sign_in_only_redirects_within_the_site(target, expected):
    assert safe_next(target) == expected


# --- the API with the cookie --------------------------------------------------------------
def _app(keys: FakeKeys) -> Starlette:
    @requires("viewer")
    async def read(request: Request, principal: Principal) -> JSONResponse:
        return JSONResponse({"role": principal.role, "org_id": principal.org_id})

    @requires("member")
    async def write(request: Request, principal: Principal) -> JSONResponse:
        return JSONResponse({"written": True, "role": principal.role})

    app = Starlette(routes=[Route("/api/x", read), Route("/api/x", write, methods=["POST", "DELETE"])],
                    exception_handlers=EXCEPTION_HANDLERS)
    app.state.settings = SETTINGS
    app.state.services = SimpleNamespace(keys=keys)
    return app


def _client(app: Starlette, session: Session | None) -> httpx.AsyncClient:
    cookies = {SESSION_COOKIE: seal(session, SETTINGS)} if session else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", cookies=cookies)


async def test_cookie_authenticates_reads_without_a_token():
    async with _client(_app(FakeKeys()), Session.start("viewer")) as client:
        response = await client.get("/api/x")
    assert response.status_code == 200
    assert response.json() == {"role": "viewer", "org_id": ORG}


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize("headers", [{}, {"X-CSRF-Token": ""}, {"X-CSRF-Token": "forged"}])
async def test_cookie_alone_never_authorizes_a_write(method, headers):
    async with _client(_app(FakeKeys()), Session.start("admin")) as client:
        response = await client.request(method, "/api/x", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


async def test_csrf_token_of_another_session_is_refused():
    other = Session.start("admin")
    async with _client(_app(FakeKeys()), Session.start("admin")) as client:
        response = await client.post("/api/x", headers={"X-CSRF-Token": other.csrf})
    assert response.status_code == 403


async def test_cookie_write_with_its_token_passes_and_roles_still_apply():
    admin, viewer = Session.start("admin"), Session.start("viewer")
    async with _client(_app(FakeKeys()), admin) as client:
        response = await client.post("/api/x", headers={"X-CSRF-Token": admin.csrf})
    assert response.status_code == 200 and response.json()["role"] == "admin"
    async with _client(_app(FakeKeys()), viewer) as client:
        response = await client.post("/api/x", headers={"X-CSRF-Token": viewer.csrf})
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


async def test_revocation_ends_the_session_on_the_next_request():
    keys = FakeKeys()
    session = Session.start("member")
    async with _client(_app(keys), session) as client:
        assert (await client.get("/api/x")).status_code == 200
        keys.revoked.add("member")
        response = await client.get("/api/x")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


async def test_bearer_header_needs_no_csrf_and_wins_over_the_cookie():
    async with _client(_app(FakeKeys()), Session.start("viewer")) as client:
        response = await client.post("/api/x", headers={"Authorization": "Bearer admin"})
    assert response.status_code == 200 and response.json()["role"] == "admin"


async def test_tampered_or_expired_cookie_is_401():
    app = _app(FakeKeys())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 cookies={SESSION_COOKIE: "tampered"}) as client:
        response = await client.get("/api/x")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
