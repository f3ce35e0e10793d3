"""The shape every middleware here shares: pure ASGI, acting on HTTP requests only."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware:
    """Passes lifespan and websocket scopes through untouched; `handle` sees HTTP requests.

    Pure ASGI rather than Starlette's BaseHTTPMiddleware: no extra task per request, and a
    streamed body is never read into memory by the wrapper.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request, calling `self.app` with whatever wraps it."""
        raise NotImplementedError
