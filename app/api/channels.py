"""Notification channels: email, Slack-compatible webhook, generic signed webhook."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from app.api.params import RowId
from app.deps import CurrentUser, RuntimeDep, SessionDep
from app.services.notifications import channels as channel_service
from app.services.notifications.delivery import send_test

router = APIRouter(tags=["notifications"])


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["email", "slack", "webhook"]
    target: str = Field(
        max_length=2048, description="An email address, or the https URL to POST to"
    )


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    target: str
    active: bool
    created_at: datetime


class ChannelCreated(ChannelOut):
    secret: str | None = Field(
        default=None,
        description="Webhook only, shown once: verify X-GrowthGuard-Signature "
        "(sha256=HMAC-SHA256 of the raw body) with it",
    )


@router.post("/notification-channels", response_model=ChannelCreated, status_code=201)
def create(
    body: ChannelIn, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> ChannelCreated:
    """Add a channel; webhooks get a signing secret, returned this once."""
    channel, secret = channel_service.create_channel(
        session,
        runtime.cipher,
        user.id,
        body.kind,
        body.target,
        allow_loopback=runtime.settings.loopback_targets_allowed,
    )
    return ChannelCreated(**ChannelOut.model_validate(channel).model_dump(), secret=secret)


@router.get("/notification-channels", response_model=list[ChannelOut])
def list_channels(user: CurrentUser, session: SessionDep) -> list[ChannelOut]:
    return [ChannelOut.model_validate(c) for c in channel_service.list_channels(session, user.id)]


@router.delete("/notification-channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(channel_id: RowId, user: CurrentUser, session: SessionDep) -> Response:
    channel_service.delete_channel(session, user.id, channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/notification-channels/{channel_id}/test", response_model=dict[str, bool])
def test(
    channel_id: RowId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> dict[str, bool]:
    """Send a test message now; says whether the channel accepted it."""
    ok = send_test(session, runtime.cipher, user.id, channel_id, runtime.clock(), runtime.senders)
    return {"delivered": ok}
