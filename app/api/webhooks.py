"""Provider push endpoints: verify, answer fast, sync in the background.

Each provider's registry entry parses its own requests; verification against the channels we
created is the same for all. The body is bounded by the request-size middleware. The common
case (a numbered change on a channel verified before) is checked in memory on the event loop
and answered without SQL; everything else, and large bodies, run off the event loop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.background import BackgroundTask

from app import jsonbounds, metrics, tasks
from app.db.session import transaction
from app.deps import runtime_of
from app.runtime import Runtime
from app.services.sync import watches
from app.services.sync.channel_cache import ECHO_DEFER
from connectors.push import PushMalformed, PushNotice, PushParse, PushParser, PushRequest

router = APIRouter(tags=["webhooks"])


_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Accepted, or a subscription handshake echoed as plain text",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    202: {"description": "Notifications accepted (providers that expect 202)"},
}


# Bodies up to this size are parsed on the event loop (Graph batches are a few KB).
_INLINE_BODY = 16 * 1024


def _rejected(reason: str, code: int, kind: str) -> Response:
    # The same error shape as the rest of the API (providers ignore the body).
    metrics.WEBHOOK_REJECTIONS.labels(kind).inc()
    return JSONResponse({"detail": reason}, status_code=code)


# The path parameter is declared here rather than in the signature: FastAPI's parameter and
# dependency solving cost more than all the rest of the handling (profiled: 115 µs a request
# without it, 260 µs with `provider: str` and the runtime dependency).
_PROVIDER: dict[str, Any] = {
    "parameters": [
        {
            "name": "provider",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "title": "Provider"},
            "description": "the name of a configured provider that pushes changes",
        }
    ]
}


@router.post("/webhooks/{provider}", responses=_ANSWERS, openapi_extra=_PROVIDER)
@router.post("/webhooks/{provider}/lifecycle", responses=_ANSWERS, openapi_extra=_PROVIDER)
async def notification(request: Request) -> Response:
    """A push from a provider: a hint to sync, never trusted as data."""
    runtime, provider = runtime_of(request), str(request.path_params["provider"])
    entry = runtime.providers.entry(provider)
    if entry is None or entry.push is None:
        return _rejected("unknown provider", status.HTTP_404_NOT_FOUND, "unknown_provider")
    parsed_request = PushRequest(
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=await request.body(),
    )
    try:
        if len(parsed_request.body) <= _INLINE_BODY:
            parsed = _parse(entry.push, parsed_request)  # headers or a few KB: microseconds
        else:
            parsed = await run_in_threadpool(_parse, entry.push, parsed_request)
    except (PushMalformed, jsonbounds.JsonRejectedError) as error:
        return _rejected(str(error), status.HTTP_400_BAD_REQUEST, "malformed")
    if parsed.reply is not None:
        return PlainTextResponse(parsed.reply, status_code=status.HTTP_200_OK)
    channels = runtime.push_channels
    try:
        wanted = None if channels is None else watches.verify_cached(channels, parsed.notices)
        if wanted is None:
            wanted = await run_in_threadpool(_verify, runtime, provider, parsed.notices)
    except watches.WebhookRejectedError as error:
        return _rejected(str(error), error.status, f"unverified_{error.status}")
    for item in wanted:
        plain = not (item.recreate_watch or item.full)
        if channels is None or not plain:
            tasks.enqueue_sync(item.calendar_id, recreate_watch=item.recreate_watch, full=item.full)
        elif channels.take_echo(item.calendar_id):
            tasks.enqueue_sync(item.calendar_id, delay=ECHO_DEFER, echo=True)
        else:
            tasks.enqueue_sync(item.calendar_id, delay=channels.sync_delay(item.calendar_id))
    after = None
    if channels is not None and channels.flush_due():
        after = BackgroundTask(run_in_threadpool, channels.flush)  # after the answer is sent
    return Response(status_code=parsed.status, background=after)


def _parse(parser: PushParser, request: PushRequest) -> PushParse:
    # A body nesting deeper than any notification does is refused before a parser recurses.
    if request.body:
        jsonbounds.check_depth(request.body)
    return parser(request)


def _verify(
    runtime: Runtime, provider: str, notices: list[PushNotice]
) -> list[watches.SyncRequest]:
    with transaction(runtime.sessions) as session:
        return watches.verify(session, provider, notices, runtime.clock(), runtime.push_channels)
