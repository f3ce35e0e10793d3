"""Provider push endpoints: verify, record, answer fast, sync in the background."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from app import jsonbounds, tasks
from app.db.session import transaction
from app.deps import RuntimeDep
from app.services import push

router = APIRouter(tags=["webhooks"])


def _rejected(reason: str, code: int) -> Response:
    # The same error shape as the rest of the API (providers ignore the body).
    return JSONResponse({"detail": reason}, status_code=code)


@router.post("/webhooks/google", status_code=status.HTTP_200_OK)
def google(request: Request, runtime: RuntimeDep) -> Response:
    """Google push: channel id + token checked; a hint to sync, never trusted as data."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        with transaction(runtime.sessions) as session:
            wanted = push.google_notification(session, headers, runtime.clock())
    except push.WebhookRejectedError as error:
        return _rejected(str(error), error.status)
    if wanted is not None:
        tasks.enqueue_sync(wanted.calendar_id)
    return Response(status_code=status.HTTP_200_OK)


_VALIDATION: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The subscription validation handshake: the token echoed as plain text",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    202: {"description": "Notifications accepted"},
}


@router.post("/webhooks/microsoft", status_code=202, responses=_VALIDATION)
@router.post("/webhooks/microsoft/lifecycle", status_code=202, responses=_VALIDATION)
async def microsoft(request: Request, runtime: RuntimeDep) -> Response:
    """Graph change and lifecycle notifications, and the subscription validation handshake."""
    token = request.query_params.get("validationToken")
    if token is not None:
        # Graph wants the decoded token back as plain text within 10 seconds.
        return PlainTextResponse(token, status_code=status.HTTP_200_OK)
    raw = await request.body()  # bounded by the request-size limit middleware
    try:
        # Parsing and the database work run off the event loop.
        body: Any = await run_in_threadpool(jsonbounds.loads, raw)
    except jsonbounds.JsonRejectedError as error:
        return _rejected(str(error), status.HTTP_400_BAD_REQUEST)
    if not isinstance(body, dict):
        return _rejected("body is not an object", status.HTTP_400_BAD_REQUEST)
    try:
        wanted = await run_in_threadpool(_record_microsoft, runtime, body)
    except push.WebhookRejectedError as error:
        return _rejected(str(error), error.status)
    for item in wanted:
        tasks.enqueue_sync(item.calendar_id, recreate_watch=item.recreate_watch, full=item.full)
    return Response(status_code=status.HTTP_202_ACCEPTED)


def _record_microsoft(runtime: RuntimeDep, body: dict[str, Any]) -> list[push.SyncRequest]:
    with transaction(runtime.sessions) as session:
        return push.microsoft_notifications(session, body, runtime.clock())
