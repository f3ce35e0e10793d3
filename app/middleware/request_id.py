"""A request id for every request: log records written while serving it carry it (JSON logs),
and the response says it (`X-Request-ID`), so a person's report can be matched to the logs."""

from __future__ import annotations

import random

import re2
from starlette.types import Message, Receive, Scope, Send

from app.logsetup import REQUEST_ID
from app.middleware.http import HttpMiddleware

# A proxy's id is kept when it is short and plain; anything else is replaced.
_SAFE = re2.compile(r"[A-Za-z0-9._-]{8,64}")


def new_request_id() -> str:
    """32 random hex digits. Ids only tell requests apart in logs, they guard nothing, so the
    (fork-safe) Mersenne Twister will do: uuid4 reads the kernel's random source on every
    request, which cost ~30 µs here, a tenth of a webhook's whole handling."""
    return f"{random.getrandbits(128):032x}"


class RequestIdMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if given and _SAFE.fullmatch(given) else new_request_id()
        token = REQUEST_ID.set(request_id)

        async def tag(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, tag)
        finally:
            REQUEST_ID.reset(token)
