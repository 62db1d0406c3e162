"""Pages rendered without services (fake keys and search): sign-in, roles, controls, filters."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime

import httpx
import pytest
from starlette.datastructures import QueryParams

from bonito_logs.api.app import create_app
from bonito_logs.api.routes.histogram import choose_interval
from bonito_logs.api.session import LOGIN_COOKIE, SESSION_COOKIE, Session, seal, unseal
from bonito_logs.api.web.explorer import waterfall
from bonito_logs.api.web.filters import pages_to_show, view_from_params
from bonito_logs.api.web.render import STATIC_DIR, TEMPLATES_DIR, Page
from bonito_logs.config import Settings
from bonito_logs.schemas import build_record, record_to_json
from tests.unit.test_web_session import ORG, FakeKeys

SETTINGS = Settings(secret_key="unit-test-secret")
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class FakeSearch:
    def __init__(self) -> None:
        self.queries = []
        self.items = [record_to_json(build_record(
            org_id=ORG, log_type="gateway", event_type="request", severity="error", timestamp=NOW,
            message="<script>alert(1)</script> upstream timeout", duration_ms=12.5, cost=0.02,
            user_id="user-1", trace_id="t-1"))]

    async def search(self, org_id, query):
        self.queries.append((org_id, query))
        return {"items": self.items, "total": {"value": 1, "exact": True}, "limit": query.limit,
                "offset": query.offset, "next_cursor": None, "took_ms": 3}

    async def trace(self, org_id, trace_id):
        from bonito_logs.errors import NotFound

        raise NotFound("no trace")


@pytest.fixture
def app():
    app = create_app(SETTINGS)
    app.state.services.keys = FakeKeys()
    app.state.services.search = FakeSearch()
    return app


def client_for(app, role: str | None = None) -> tuple[httpx.AsyncClient, Session | None]:
    session = Session.start(role) if role else None
    cookies = {SESSION_COOKIE: seal(session, SETTINGS)} if session else {}
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                               cookies=cookies, follow_redirects=False)
    return client, session


async def test_pages_are_not_api_operations(app):
    pages = [route for route in app.routes if isinstance(route, Page)]
    assert {page.path for page in pages} >= {"/logs", "/logs/trace/{trace_id}", "/logs/exports",
                                             "/logs/dashboard", "/logs/integrations", "/logs/login"}
    assert not [page.path for page in pages if page.path.startswith("/api")]


async def test_anonymous_pages_redirect_to_sign_in(app):
    client, _ = client_for(app)
    async with client:
        response = await client.get("/logs/dashboard?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/logs/login?next=%2Flogs%2Fdashboard%3Fx%3D1"


async def test_sign_in_sets_a_sealed_httponly_samesite_cookie(app):
    client, _ = client_for(app)
    async with client:
        form = await client.get("/logs/login?next=/logs/trace/t-1")
        nonce = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        assert form.cookies[LOGIN_COOKIE] == nonce
        response = await client.post("/logs/login", data={"api_key": "member", "csrf_token": nonce,
                                                          "next": "/logs/trace/t-1"})
    assert response.status_code == 303 and response.headers["location"] == "/logs/trace/t-1"
    header = [v for k, v in response.headers.multi_items()
              if k == "set-cookie" and v.startswith(SESSION_COOKIE)][0]
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
    value = header.split(";")[0].split("=", 1)[1]
    assert unseal(value, SETTINGS).token == "member"


async def test_sign_in_refuses_a_bad_key_and_a_missing_form_nonce(app):
    client, _ = client_for(app)
    async with client:
        form = await client.get("/logs/login")
        nonce = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        bad = await client.post("/logs/login", data={"api_key": "bnt_wrong", "csrf_token": nonce})
        assert bad.status_code == 401 and "Sign-in failed" in bad.text
        assert SESSION_COOKIE not in bad.cookies
        client.cookies.clear()
        forged = await client.post("/logs/login", data={"api_key": "admin", "csrf_token": "x"})
    assert forged.status_code == 403 and SESSION_COOKIE not in forged.cookies


async def test_sign_out_needs_the_csrf_token(app):
    client, session = client_for(app, "viewer")
    async with client:
        refused = await client.post("/logs/logout", data={})
        assert refused.status_code == 403
        done = await client.post("/logs/logout", data={"csrf_token": session.csrf})
    assert done.status_code == 303
    assert any(v.startswith(f'{SESSION_COOKIE}=""') or "Max-Age=0" in v
               for k, v in done.headers.multi_items() if k == "set-cookie")


@pytest.mark.parametrize("role, export, integrations", [
    ("viewer", False, False), ("member", True, False), ("admin", True, True)])
async def test_controls_follow_the_role(app, role, export, integrations):
    client, session = client_for(app, role)
    async with client:
        html = (await client.get("/logs")).text
        listing = await client.get("/logs/integrations")
    assert ("data-export=" in html) is export
    assert ('href="/logs/exports"' in html) is export
    assert ('href="/logs/integrations"' in html) is (role != "viewer")
    assert f'<meta name="csrf-token" content="{session.csrf}">' in html
    assert listing.status_code == (403 if role == "viewer" else 200)
    assert ('id="add-integration"' in listing.text) is integrations
    assert ("data-integration-form" in listing.text) is integrations


async def test_explorer_escapes_record_text_and_sends_security_headers(app):
    client, _ = client_for(app, "viewer")
    async with client:
        response = await client.get("/logs")
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; upstream timeout" in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("path, role", [("/logs/exports", "viewer"), ("/logs/integrations", "viewer")])
async def test_pages_above_the_role_answer_403(app, path, role):
    client, _ = client_for(app, role)
    async with client:
        response = await client.get(path)
    assert response.status_code == 403
    assert "role" in response.text and "data-export" not in response.text


async def test_explorer_runs_the_query_the_url_describes(app):
    client, _ = client_for(app, "viewer")
    async with client:
        response = await client.get("/logs?severity=error&severity=critical&log_type=gateway&q=timeout"
                                    "&sort=cost&order=asc&page=3&per=25&range=1h")
    assert response.status_code == 200
    org, query = app.state.services.search.queries[-1]
    assert org == ORG
    assert query.severities == ("error", "critical") and query.log_types == ("gateway",)
    assert query.search == "timeout" and query.sort_by == "cost" and query.sort_order == "asc"
    assert query.offset == 50 and query.limit == 25 and query.start_date is not None


async def test_explorer_shows_validation_problems(app):
    client, _ = client_for(app, "viewer")
    async with client:
        response = await client.get("/logs?range=custom&start=yesterday")
    assert response.status_code == 200
    assert "These filters cannot be run" in response.text and "From" in response.text


async def test_unknown_trace_is_a_404_page(app):
    client, _ = client_for(app, "viewer")
    async with client:
        response = await client.get("/logs/trace/nope")
    assert response.status_code == 404 and "Trace not found" in response.text


def test_view_round_trips_through_its_url():
    params = QueryParams("log_type=kb&severity=warn&q=a+b&trace_id=t&range=custom"
                         "&start=2024-01-01T00:00:00Z&sort=duration_ms&order=asc&per=100&page=2")
    view = view_from_params(params, now=NOW)
    again = view_from_params(QueryParams(view.url().split("?", 1)[1]), now=NOW)
    assert again == view
    assert view.body() == {
        "filters": {"log_types": ["kb"], "severities": ["warn"], "search": "a b", "trace_id": "t",
                    "start_date": "2024-01-01T00:00:00Z"},
        "sort_by": "duration_ms", "sort_order": "asc", "limit": 100, "offset": 100}


def test_defaults_and_bad_values():
    view = view_from_params(QueryParams("sort=id&per=7&page=-3&range=1y&severity=loud"), now=NOW)
    assert (view.sort, view.per, view.page, view.range, view.severities) == ("timestamp", 50, 1, "24h", ())
    assert view.body()["filters"] == {"start_date": "2024-04-30T12:00:00Z"}
    assert view.url() == "/logs"
    assert view.sort_url("timestamp") == "/logs?sort=timestamp&order=asc"


def test_pager_pages():
    assert pages_to_show(1, 1) == [1]
    assert pages_to_show(5, 20) == [1, None, 3, 4, 5, 6, 7, None, 20]
    assert pages_to_show(2, 4) == [1, 2, 3, 4]


def test_histogram_interval_is_round_and_bounded():
    assert choose_interval(3_600_000, 60) == 60_000
    assert choose_interval(24 * 3_600_000, 80) == 30 * 60_000
    assert choose_interval(0, 60) == 1
    assert choose_interval(10 * 365 * 86_400_000, 60) % 86_400_000 == 0


def test_waterfall_places_bars_on_the_axis():
    items = [{"timestamp": "2024-05-01T12:00:00.000000Z", "duration_ms": 100.0},
             {"timestamp": "2024-05-01T12:00:00.050000Z", "duration_ms": None},
             {"timestamp": "2024-05-01T12:00:00.100000Z", "duration_ms": 100.0}]
    chart = waterfall(items, width=1000)
    assert chart["span_ms"] == 200.0
    assert [(r["x"], r["w"]) for r in chart["rows"]] == [(0.0, 500.0), (250.0, 2.0), (500.0, 500.0)]
    assert [r["timed"] for r in chart["rows"]] == [True, False, True]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("script", sorted(p.name for p in STATIC_DIR.glob("*.js")))
def test_javascript_modules_parse(script, tmp_path):
    """A syntax error would only show in a browser; node checks each module's syntax."""
    module = tmp_path / (script[:-3] + ".mjs")
    module.write_text((STATIC_DIR / script).read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(["node", "--check", str(module)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_every_static_asset_a_template_names_exists():
    named = set()
    for template in TEMPLATES_DIR.glob("*.html"):
        named |= set(re.findall(r"static\('([^']+)'\)", template.read_text(encoding="utf-8")))
    assert named and named <= {p.name for p in STATIC_DIR.iterdir()}
    imports = set()
    for script in STATIC_DIR.glob("*.js"):
        imports |= set(re.findall(r'from "\./([^"]+)"', script.read_text(encoding="utf-8")))
    assert imports <= {p.name for p in STATIC_DIR.iterdir()}
