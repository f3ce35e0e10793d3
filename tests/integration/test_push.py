"""Verification of provider notifications: channel tokens, clientState, dedupe, lifecycle."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Calendar, WebhookReceipt
from app.db.session import transaction
from app.runtime import Runtime
from app.security import hash_token
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.sync import watches
from connectors.base import CalendarInfo
from connectors.google import push as google_push
from connectors.microsoft import push as graph_push
from connectors.push import PushMalformed, PushRequest

NOW = datetime(2027, 1, 11, 8, tzinfo=UTC)


@pytest.fixture
def watched(runtime: Runtime) -> int:
    with transaction(runtime.sessions) as session:
        user, _ = create_user(session, "me@corp.example", "UTC")
        account = add_account(
            session,
            user,
            "google",
            "me@corp.example",
            [CalendarInfo(id="primary", name="Me", primary=True)],
        )
        calendar = session.query(Calendar).filter_by(account_id=account.id).one()
        calendar.watch_id = "chan-1"
        calendar.watch_resource_id = "res-1"
        calendar.watch_secret_hash = hash_token("s3cret")
        calendar.watch_expires_at = NOW + timedelta(days=7)
        return calendar.id


def google(
    session: Session, now: datetime = NOW, drop: tuple[str, ...] = (), **overrides: str
) -> watches.SyncRequest | None:
    headers = {
        "x-goog-channel-id": "chan-1",
        "x-goog-channel-token": "s3cret",
        "x-goog-resource-id": "res-1",
        "x-goog-resource-state": "exists",
        "x-goog-message-number": "2",
        **overrides,
    }
    for name in drop:
        del headers[name]
    notices = google_push.parse(PushRequest(headers, {}, b"")).notices
    wanted = watches.verify(session, "google", notices, now)
    return wanted[0] if wanted else None


def microsoft_notifications(
    session: Session, body: dict, now: datetime
) -> list[watches.SyncRequest]:
    try:
        notices = graph_push.parse(PushRequest({}, {}, json.dumps(body).encode())).notices
    except PushMalformed as error:
        raise watches.WebhookRejectedError(400, str(error)) from None
    return watches.verify(session, "microsoft", notices, now)


def test_google_push_is_verified_and_deduplicated(runtime: Runtime, watched: int):
    with transaction(runtime.sessions) as session:
        assert google(session) == watches.SyncRequest(watched)
        assert google(session) is None  # the same message number again
        assert google(session, **{"x-goog-message-number": "3"}) == watches.SyncRequest(watched)
        assert (
            google(session, **{"x-goog-message-number": "1", "x-goog-resource-state": "sync"})
            is None
        )


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"x-goog-channel-token": "guess"}, 403),
        ({"x-goog-channel-token": ""}, 403),
        ({"x-goog-channel-id": "chan-unknown"}, 404),
        ({"x-goog-resource-id": "res-other"}, 403),
    ],
)
def test_forged_google_push_is_rejected(runtime: Runtime, watched: int, overrides, status):
    with (
        transaction(runtime.sessions) as session,
        pytest.raises(watches.WebhookRejectedError) as info,
    ):
        google(session, **overrides)
    assert info.value.status == status


def graph(item: dict) -> dict:
    return {"value": [{"subscriptionId": "chan-1", "clientState": "s3cret", **item}]}


def test_graph_notifications_and_lifecycle(runtime: Runtime, watched: int):
    change = {
        "changeType": "created",
        "resource": "me/events/1",
        "resourceData": {"id": "1", "@odata.etag": "e1"},
    }
    with transaction(runtime.sessions) as session:
        assert microsoft_notifications(session, graph(change), NOW) == [
            watches.SyncRequest(watched)
        ]
        assert microsoft_notifications(session, graph(change), NOW) == []  # Graph retried
        missed = microsoft_notifications(session, graph({"lifecycleEvent": "missed"}), NOW)
        assert missed == [watches.SyncRequest(watched, full=True)]
        removed = microsoft_notifications(
            session, graph({"lifecycleEvent": "subscriptionRemoved"}), NOW
        )
        assert removed == [watches.SyncRequest(watched, recreate_watch=True, full=True)]
        assert session.get_one(Calendar, watched).watch_expires_at is None
        reauth = microsoft_notifications(
            session, graph({"lifecycleEvent": "reauthorizationRequired"}), NOW
        )
        assert reauth == [watches.SyncRequest(watched, recreate_watch=True)]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"value": [{"subscriptionId": "chan-1", "clientState": "forged"}]}, 403),
        ({"value": [{"subscriptionId": "chan-1"}]}, 403),
        ({"value": [{"subscriptionId": "nope", "clientState": "s3cret"}]}, 404),
        ({"value": []}, 400),
        ({"other": 1}, 400),
    ],
)
def test_forged_graph_notifications_are_rejected(runtime: Runtime, watched: int, body, status):
    with (
        transaction(runtime.sessions) as session,
        pytest.raises(watches.WebhookRejectedError) as info,
    ):
        microsoft_notifications(session, body, NOW)
    assert info.value.status == status


def receipts(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(WebhookReceipt)) or 0)


def test_google_push_without_a_message_number_is_deduplicated_but_never_lost(
    runtime: Runtime, watched: int
):
    with transaction(runtime.sessions) as session:
        unnumbered = ("x-goog-message-number",)
        for _ in range(5):
            # Each still asks for a sync (coalesced by the dispatcher): a change is never lost.
            assert google(session, drop=unnumbered) == watches.SyncRequest(watched)
        assert receipts(session) == 1  # before: one random-key receipt per notification
        assert google(session, NOW + timedelta(minutes=1), drop=unnumbered) is not None
        assert receipts(session) == 2
        sync_hello = google(session, drop=unnumbered, **{"x-goog-resource-state": "sync"})
        assert sync_hello is None


def test_repeated_graph_missed_events_resync_once(runtime: Runtime, watched: int):
    missed = graph({"lifecycleEvent": "missed"})
    with transaction(runtime.sessions) as session:
        first = microsoft_notifications(session, missed, NOW)
        assert first == [watches.SyncRequest(watched, full=True)]
        for minutes in (1, 5):
            again = microsoft_notifications(session, missed, NOW + timedelta(minutes=minutes))
            assert again == [watches.SyncRequest(watched)]  # incremental, not another full resync
        later = microsoft_notifications(session, missed, NOW + timedelta(hours=1))
        assert later == [watches.SyncRequest(watched, full=True)]
