"""`GET /metrics` for Prometheus. With `GG_METRICS_TOKEN` set, scrapers send it as a Bearer
token; without one, only requests from this machine are answered (behind a proxy that means
none: set a token)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app import metrics
from app.deps import RuntimeDep

router = APIRouter(tags=["health"])
LOOPBACK = {"127.0.0.1", "::1"}


@router.get("/metrics", include_in_schema=False)
def metrics_page(request: Request, runtime: RuntimeDep) -> Response:
    """The process's metrics in the Prometheus text format."""
    token = runtime.settings.metrics_token.get_secret_value()
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return JSONResponse(
                {"detail": "metrics need Authorization: Bearer <GG_METRICS_TOKEN>"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
    elif request.client is None or request.client.host not in LOOPBACK:
        return JSONResponse(
            {"detail": "metrics are served to this machine only; set GG_METRICS_TOKEN"},
            status_code=403,
        )
    depth = getattr(runtime.dispatcher, "queue_depth", None)
    if callable(depth):
        found = depth()
        metrics.QUEUE_DEPTH.set(-1 if found is None else found)
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
