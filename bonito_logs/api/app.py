"""``create_app(settings)``: the Starlette application, its routes and middleware."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from opensearchpy import AsyncOpenSearch
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from bonito_logs.api.errors import (
    EXCEPTION_HANDLERS,
    BodyLimitMiddleware,
    UnexpectedErrorMiddleware,
)
from bonito_logs.api.metrics import RequestMetricsMiddleware
from bonito_logs.api.routes import (
    docs,
    exports,
    health,
    histogram,
    integrations,
    keys,
    logs,
    stats,
)
from bonito_logs.api.services import Services
from bonito_logs.api.web import web_routes
from bonito_logs.config import Settings, get_settings


def api_routes() -> list[BaseRoute]:
    """Every route, in matching order. A new resource adds its module's ROUTES here."""
    # stats before logs: /api/logs/{record_id} would otherwise take /api/logs/stats
    # exports before logs: /api/logs/{record_id} would otherwise take /api/logs/export
    # integrations before logs: /api/logs/{record_id} would otherwise take /api/logs/integrations
    return [*health.ROUTES, *docs.ROUTES, *exports.ROUTES, *histogram.ROUTES, *stats.ROUTES,
            *integrations.ROUTES, *logs.ROUTES,
            *keys.ROUTES, *web_routes()]


def create_app(settings: Settings | None = None, *, opensearch: AsyncOpenSearch | None = None) -> Starlette:
    """The API app. ``opensearch``: a client to share (the app then leaves it open).

    The services are built here, not at startup, so the app also works under
    transports that do not run the lifespan (``httpx.ASGITransport``); call
    ``await app.state.services.aclose()`` when done in that case.
    """
    settings = settings or get_settings()
    services = Services.build(settings, opensearch)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.prepare()
        try:
            yield
        finally:
            await services.aclose()

    app = Starlette(
        routes=api_routes(),
        middleware=[
            # outermost first: metrics see the final status, including 500s and 413s
            Middleware(RequestMetricsMiddleware, metrics=services.metrics),
            Middleware(UnexpectedErrorMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.api_max_body_bytes),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services
    return app
