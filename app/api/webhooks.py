"""Provider push endpoints: verify, record, answer fast, sync in the background.

Each provider's registry entry parses its own requests; verification against the channels we
created is the same for all.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import PlainTextResponse, Response

from app import tasks
from app.db.session import transaction
from app.deps import RuntimeDep
from app.services import push
from connectors.push import PushMalformed, PushRequest

router = APIRouter(tags=["webhooks"])
MAX_BODY = 1_000_000  # notifications are small; anything bigger is not one


@router.post("/webhooks/{provider}")
@router.post("/webhooks/{provider}/lifecycle")
async def notification(provider: str, request: Request, runtime: RuntimeDep) -> Response:
    """A push from a provider: a hint to sync, never trusted as data."""
    entry = runtime.providers.entry(provider)
    if entry is None or entry.push is None:
        return PlainTextResponse("unknown provider", status_code=status.HTTP_404_NOT_FOUND)
    body = await request.body()
    if len(body) > MAX_BODY:
        return PlainTextResponse("too large", status_code=status.HTTP_413_CONTENT_TOO_LARGE)
    parsed_request = PushRequest(
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=body,
    )
    try:
        parsed = entry.push(parsed_request)
    except PushMalformed as error:
        return PlainTextResponse(str(error), status_code=status.HTTP_400_BAD_REQUEST)
    if parsed.reply is not None:
        return PlainTextResponse(parsed.reply, status_code=status.HTTP_200_OK)
    try:
        with transaction(runtime.sessions) as session:
            wanted = push.verify(session, provider, parsed.notices, runtime.clock())
    except push.WebhookRejectedError as error:
        return PlainTextResponse(str(error), status_code=error.status)
    for item in wanted:
        tasks.enqueue_sync(item.calendar_id, recreate_watch=item.recreate_watch, full=item.full)
    return Response(status_code=parsed.status)
