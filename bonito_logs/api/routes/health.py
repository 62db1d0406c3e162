"""Unauthenticated operations endpoints: ``/health`` for probes, ``/metrics`` for Prometheus."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bonito_logs.api.metrics import CONTENT_TYPE
from bonito_logs.api.openapi import operation, ref, routes
from bonito_logs.api.services import services


@operation("GET", "/health", tag="operations", role=None,
           summary="Kafka and OpenSearch reachability, indexer lag and live workers",
           description="200 `ok` when Kafka and OpenSearch answer, 503 `degraded` otherwise.",
           ok=ref("Health"), ok_description="Everything needed is reachable",
           responses={503: ("Kafka or OpenSearch is unreachable", ref("Health"))})
async def health(request: Request) -> Response:
    monitor = services(request).monitor
    kafka, opensearch, snapshot = await asyncio.gather(
        monitor.kafka_status(), monitor.opensearch_status(), monitor.snapshot(),
    )
    up = kafka["status"] == "ok" and opensearch["status"] == "ok"
    body = {
        "status": "ok" if up else "degraded",
        "kafka": kafka,
        "opensearch": opensearch,
        "lag": snapshot.lag,
        "workers": {"live": len(snapshot.workers), "items": snapshot.workers},
    }
    return JSONResponse(body, status_code=200 if up else 503)


@operation("GET", "/metrics", tag="operations", role=None,
           summary="Prometheus metrics (text exposition format 0.0.4)",
           ok={"type": "string"}, ok_media_type="text/plain", ok_description="The metrics",
           uses_backend=False)
async def metrics(request: Request) -> Response:
    body = await services(request).metrics.render()
    return Response(body, media_type=CONTENT_TYPE)


ROUTES = routes(health, metrics)
