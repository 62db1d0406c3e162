"""One module per resource; each exposes ``ROUTES`` built with ``openapi.routes``.

Adding a route (say ``GET /api/stats``):

1. In ``routes/stats.py`` declare the endpoint with its doc and least role::

       @operation("GET", "/api/stats", tag="stats", role="viewer",
                  summary="Per-minute counts", ok=ref("Stats"))
       async def get_stats(request: Request, principal: Principal) -> Response:
           ...  # principal.org_id scopes every read; raise typed errors, never HTTP ones

       ROUTES = routes(get_stats)

2. Add its body/response schemas to ``api/schemas.py`` ``COMPONENTS`` (``additionalProperties:
   False`` where unknown keys are refused), and ``*stats.ROUTES`` to ``app.api_routes()``.

Error responses (401/403 with a role, 400/413/422 with a body, 404 with path
parameters, 503, 500) are added to the document automatically, and a unit test
fails if a served route has no doc. Roles: viewer (query, trace, stats) < member
(+ export) < admin (+ integrations, keys).
"""
