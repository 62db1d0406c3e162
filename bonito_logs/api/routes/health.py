"""Unauthenticated operations endpoints: ``/health`` for probes, ``/metrics`` for Prometheus.

Only reachability decides ``/health``'s status. Consumer lag, the indexer's (logs not yet
searchable) and the aggregator's (records the statistics do not count yet), is reported
but never degrades it: a backlog is not an outage (the API answers from what is stored),
and a probe that failed on lag would take the API out of rotation while the workers catch
up. Alert on ``bonito_indexer_lag_records`` and ``bonito_aggregator_lag_records`` instead.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bonito_logs.api.metrics import CONTENT_TYPE
from bonito_logs.api.openapi import operation, ref, routes
from bonito_logs.api.services import services


@operation("GET", "/health", tag="operations", role=None,
           summary="Kafka and OpenSearch reachability, indexer and aggregator lag, live workers",
           description="200 `ok` when Kafka and OpenSearch answer, 503 `degraded` otherwise. "
                       "`lag` (the indexer's: records not yet searchable) and `aggregator.lag` "
                       "(records the statistics do not count yet) are reported but never change "
                       "the status; alert on `bonito_indexer_lag_records` and "
                       "`bonito_aggregator_lag_records` from `/metrics`.",
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
        "aggregator": {"lag": snapshot.aggregator_lag, "live_workers": len(snapshot.aggregators)},
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
