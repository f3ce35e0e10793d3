"""A request-body size limit per route class, enforced while the body streams in.

Content-Length above the limit is refused before a byte is read; a chunked (or lying) body is
counted as it arrives and cut off with 413 the moment it passes the limit, so memory stays
bounded whatever a stranger sends.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from app.html.errorpage import accepts_html, error_page
from app.middleware.http import HttpMiddleware

KIB = 1024
# (path prefix, limit); the first match wins.
LIMITS: tuple[tuple[str, int], ...] = (
    ("/webhooks/", 1024 * KIB),  # Graph batches notifications; Google sends headers only
    ("/signin", 16 * KIB),
    ("/signup", 16 * KIB),
    ("/users", 64 * KIB),
    ("/auth/", 16 * KIB),
    ("/conflicts/", 16 * KIB),
)
DEFAULT_LIMIT = 256 * KIB  # plans, policies (YAML from the dashboard), channels


def limit_for(path: str) -> int:
    for prefix, limit in LIMITS:
        if path.startswith(prefix):
            return limit
    return DEFAULT_LIMIT


class BodyLimitMiddleware(HttpMiddleware):
    """413 Payload Too Large for bodies over the route class's limit."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit, scope)
            return
        seen = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Answer now and tell the app the client is gone: it stops reading, and
                    # whatever it would still send is dropped below.
                    refused = True
                    if not started:
                        await _refuse(send, limit, scope)
                    return {"type": "http.disconnect"}
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, watching_send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return bytes(value).decode("latin-1")
    return ""


async def _refuse(send: Send, limit: int, scope: Scope) -> None:
    message = f"request body too large (limit {limit} bytes)"
    if accepts_html(scope["path"], _header(scope, b"accept")):
        # A browser form (e.g. megabytes pasted into the YAML box): the app's error page.
        text = f"That was too much to send at once: the limit here is {limit // 1024} KiB."
        body = error_page(413, text).encode()
        kind = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"detail": message}).encode()
        kind = b"application/json"
    headers: list[Any] = [
        (b"content-type", kind),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
