"""The web interface: server-rendered pages (Jinja2) over the same services as the API,
hand-written JavaScript that calls the API with the session cookie, one stylesheet.

``web_routes()`` is what ``app.api_routes()`` adds: the pages (``Page`` routes, not
API operations, so the OpenAPI document leaves them out) and ``/static``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from bonito_logs.api.web import explorer, signin, tools
from bonito_logs.api.web.render import STATIC_DIR, Page


def web_routes() -> list[BaseRoute]:
    return [
        Page("/", tools.home, name="home"),
        Page("/logs/login", signin.login_page, name="login"),
        Page("/logs/login", signin.login_submit, methods=("POST",), name="login_submit"),
        Page("/logs/logout", signin.logout, methods=("POST",), name="logout"),
        Page("/logs", explorer.explorer, name="explorer"),
        Page("/logs/trace/{trace_id}", explorer.trace, name="trace_page"),
        Page("/logs/exports", tools.exports, name="exports_page"),
        Page("/logs/dashboard", tools.dashboard, name="dashboard_page"),
        Page("/logs/integrations", tools.integrations, name="integrations_page"),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]


__all__ = ["web_routes"]
