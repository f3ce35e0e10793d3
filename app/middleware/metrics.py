"""Counts every HTTP request by its route template (bounded: not the raw path) and status."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception before any response start is a 500 to the client

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            # The router wrote the matched route into the scope; unmatched paths share a label.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            metrics.HTTP_REQUESTS.labels(route, str(status)).inc()
