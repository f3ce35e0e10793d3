"""Provider push endpoints: verify, record, answer fast, sync in the background.

Each provider's registry entry parses its own requests; verification against the channels we
created is the same for all. The body is bounded by the request-size middleware; parsing and
the database work run off the event loop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from app import jsonbounds, metrics, tasks
from app.db.session import transaction
from app.deps import RuntimeDep
from app.runtime import Runtime
from app.services import push
from connectors.push import PushMalformed, PushNotice, PushParse, PushParser, PushRequest

router = APIRouter(tags=["webhooks"])


_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Accepted, or a subscription handshake echoed as plain text",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    202: {"description": "Notifications accepted (providers that expect 202)"},
}


def _rejected(reason: str, code: int, kind: str) -> Response:
    # The same error shape as the rest of the API (providers ignore the body).
    metrics.WEBHOOK_REJECTIONS.labels(kind).inc()
    return JSONResponse({"detail": reason}, status_code=code)


@router.post("/webhooks/{provider}", responses=_ANSWERS)
@router.post("/webhooks/{provider}/lifecycle", responses=_ANSWERS)
async def notification(provider: str, request: Request, runtime: RuntimeDep) -> Response:
    """A push from a provider: a hint to sync, never trusted as data."""
    entry = runtime.providers.entry(provider)
    if entry is None or entry.push is None:
        return _rejected("unknown provider", status.HTTP_404_NOT_FOUND, "unknown_provider")
    parsed_request = PushRequest(
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=await request.body(),
    )
    try:
        parsed = await run_in_threadpool(_parse, entry.push, parsed_request)
    except (PushMalformed, jsonbounds.JsonRejectedError) as error:
        return _rejected(str(error), status.HTTP_400_BAD_REQUEST, "malformed")
    if parsed.reply is not None:
        return PlainTextResponse(parsed.reply, status_code=status.HTTP_200_OK)
    try:
        wanted = await run_in_threadpool(_verify, runtime, provider, parsed.notices)
    except push.WebhookRejectedError as error:
        return _rejected(str(error), error.status, f"unverified_{error.status}")
    for item in wanted:
        tasks.enqueue_sync(item.calendar_id, recreate_watch=item.recreate_watch, full=item.full)
    return Response(status_code=parsed.status)


def _parse(parser: PushParser, request: PushRequest) -> PushParse:
    # A body nesting deeper than any notification does is refused before a parser recurses.
    if request.body:
        jsonbounds.check_depth(request.body)
    return parser(request)


def _verify(runtime: Runtime, provider: str, notices: list[PushNotice]) -> list[push.SyncRequest]:
    with transaction(runtime.sessions) as session:
        return push.verify(session, provider, notices, runtime.clock())
