"""Counts every HTTP request by its route template (bounded: not the raw path) and status."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from app import metrics
from app.middleware.http import HttpMiddleware


class MetricsMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
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
