"""Google-only behaviour of the connector against the fake Google server (no network)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response as HttpResponse
from starlette.routing import Route

from connectors.base import BlockSpec, BlockTag, EventType, Response, SelfResponse
from connectors.errors import (
    Collision,
    ConnectorError,
    CursorExpired,
    PermissionDenied,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from connectors.google import (
    SCOPES,
    AuthorizationFailed,
    GoogleConfig,
    GoogleConnector,
    MissingScopes,
    event_id_for_slot,
    finish_authorization,
    make_factory,
    revoke,
    start_authorization,
)
from connectors.google.mapping import event_from_google
from tests.fakes.google_server import FakeGoogle
from tests.support.servers import AsgiServer

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
WEEK = timedelta(weeks=1)


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _clean(google: FakeGoogle) -> Iterator[None]:
    yield
    google.faults.clear()
    google.deliver_to(None)


@pytest.fixture
def config(google: FakeGoogle) -> GoogleConfig:
    return GoogleConfig(**google.endpoints(), timeout=5)


@pytest.fixture
def email(google: FakeGoogle) -> str:
    return google.add_account(f"user-{uuid.uuid4().hex[:8]}@example.com")


class Harness:
    """A connector with its saved credentials."""

    def __init__(self, google: FakeGoogle, config: GoogleConfig, email: str, **mint: bool) -> None:
        self.creds = google.mint_credentials(email, **mint)  # type: ignore[arg-type]
        self.saved: list[bytes] = []
        self.connector = GoogleConnector(config, json.dumps(self.creds).encode(), self.saved.append)


@pytest.fixture
def h(google: FakeGoogle, config: GoogleConfig, email: str) -> Harness:
    return Harness(google, config, email)


def block(slot: str, start: datetime = T0, **kw: object) -> BlockSpec:
    return BlockSpec(BlockTag("plan-1", slot), "Growth: lead", start, start + 2 * H, **kw)  # type: ignore[arg-type]


def _authorize(url: str) -> dict[str, str]:
    """Follow the consent URL like a browser; the fake redirects straight back."""
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


# --- OAuth ---------------------------------------------------------------------------------


@pytest.fixture
def insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain http


@pytest.mark.usefixtures("insecure_transport")
def test_authorization_code_flow_with_pkce(
    google: FakeGoogle, config: GoogleConfig, email: str
) -> None:
    google.set_consent(email)
    start = start_authorization(config)
    query = parse_qs(urlsplit(start.url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["state"] == [start.state]
    assert (query["access_type"], query["prompt"]) == (["offline"], ["consent"])
    assert query["include_granted_scopes"] == ["true"]
    assert query["scope"][0].split() == SCOPES
    back = _authorize(start.url)
    assert back["state"] == start.state
    grant = finish_authorization(
        config,
        state=start.state,
        code_verifier=start.code_verifier,
        code=back["code"],
        granted_scope=back["scope"],
    )
    assert (grant.email, grant.email_verified) == (email, True)
    assert grant.subject
    stored = json.loads(grant.credentials)
    assert stored["refresh_token"] and stored["token"]
    assert config.client_secret not in grant.credentials.decode()
    assert config.client_secret not in repr(config)
    connector = GoogleConnector(config, grant.credentials, lambda b: None)
    assert [c.id for c in connector.list_calendars()] == [email]


@pytest.mark.usefixtures("insecure_transport")
def test_wrong_verifier_and_reused_code_fail(
    google: FakeGoogle, config: GoogleConfig, email: str
) -> None:
    google.set_consent(email)
    start = start_authorization(config)
    back = _authorize(start.url)
    with pytest.raises(AuthorizationFailed, match="invalid_grant") as failed:
        finish_authorization(
            config, state=start.state, code_verifier="x" * 64, code=back["code"], granted_scope=None
        )
    assert back["code"] not in str(failed.value)
    with pytest.raises(AuthorizationFailed):  # codes are one-time, even after a failure
        finish_authorization(
            config,
            state=start.state,
            code_verifier=start.code_verifier,
            code=back["code"],
            granted_scope=None,
        )


@pytest.mark.usefixtures("insecure_transport")
def test_granular_consent_without_calendar_scope(
    google: FakeGoogle, config: GoogleConfig, email: str
) -> None:
    google.set_consent(email, scopes=["openid", "https://www.googleapis.com/auth/userinfo.email"])
    start = start_authorization(config)
    back = _authorize(start.url)
    with pytest.raises(MissingScopes) as missing:
        finish_authorization(
            config,
            state=start.state,
            code_verifier=start.code_verifier,
            code=back["code"],
            granted_scope=back["scope"],
        )
    assert missing.value.missing == SCOPES[:2]


@pytest.mark.usefixtures("insecure_transport")
def test_denied_consent_redirects_with_error(google: FakeGoogle, config: GoogleConfig) -> None:
    google.set_consent("someone@example.com", deny=True)
    back = _authorize(start_authorization(config).url)
    assert back["error"] == "access_denied"


def test_refresh_saves_new_token_and_keeps_token_uri(
    google: FakeGoogle, config: GoogleConfig, email: str
) -> None:
    h = Harness(google, config, email, expired=True)
    google.requests.clear()
    h.connector.list_calendars()
    assert [r.path for r in google.requests] == ["/token", "/calendar/v3/users/me/calendarList"]
    [saved] = h.saved
    blob = json.loads(saved)
    assert blob["token"] != h.creds["token"]
    assert blob["refresh_token"] == h.creds["refresh_token"]
    assert "client_secret" not in blob
    again = GoogleConnector(config, saved, h.saved.append)
    google.requests.clear()
    again.list_calendars()
    assert [r.path for r in google.requests] == ["/calendar/v3/users/me/calendarList"]
    assert len(h.saved) == 1


def test_revoked_grant_needs_reauth(google: FakeGoogle, h: Harness, email: str) -> None:
    google.revoke_grant(email)
    with pytest.raises(ReauthRequired) as failed:
        h.connector.list_events(email, T0, T0 + H)
    assert_no_secrets(failed.value, h)


def test_revoke_helper_is_idempotent(google: FakeGoogle, config: GoogleConfig, h: Harness) -> None:
    blob = json.dumps(h.creds).encode()
    revoke(config, blob)
    revoke(config, blob)  # already revoked counts as done
    with pytest.raises(ReauthRequired):
        GoogleConnector(config, blob, lambda b: None).list_calendars()


def test_factory_needs_credentials(config: GoogleConfig) -> None:
    with pytest.raises(ReauthRequired):
        make_factory(config)(None, lambda b: None)


# --- retries and errors --------------------------------------------------------------------


def _calls(google: FakeGoogle, fragment: str) -> int:
    return len([r for r in google.requests if fragment in r.path])


def test_a_rate_limit_is_one_attempt_with_retry_after(
    google: FakeGoogle, h: Harness, email: str
) -> None:
    google.faults.fail_next(4, status=429, retry_after=90, path="/events")
    before = _calls(google, "/events")
    with pytest.raises(RateLimited) as limited:
        h.connector.list_events(email, T0, T0 + H)
    assert limited.value.retry_after == 90
    assert _calls(google, "/events") - before == 1  # no sleeping, no retry: the caller decides
    assert_no_secrets(limited.value, h)


def test_403_rate_limit_and_5xx_are_typed_and_not_retried(
    google: FakeGoogle, h: Harness, email: str
) -> None:
    google.faults.fail_next(status=403, path="/events")  # reason rateLimitExceeded
    with pytest.raises(RateLimited):
        h.connector.create_block(email, block("w10-1"))
    google.faults.fail_next(status=503, path="/events")
    with pytest.raises(TransientError) as failed:
        h.connector.sync(email, None)
    assert not isinstance(failed.value, RateLimited)
    created = h.connector.create_block(email, block("w10-1"))  # the caller's retry works
    assert created.is_growth_block


def test_unreachable_server_is_transient(config: GoogleConfig, h: Harness) -> None:
    with AsgiServer(Starlette()) as gone:
        dead = gone.base_url
    connector = GoogleConnector(
        GoogleConfig(**{**config.__dict__, "api_endpoint": f"{dead}/calendar/v3/"}),
        json.dumps(h.creds).encode(),
        lambda b: None,
    )
    with pytest.raises(TransientError):
        connector.list_calendars()


def test_read_only_calendar_refuses_writes(google: FakeGoogle, h: Harness, email: str) -> None:
    team = google.add_calendar(email, "Team", access_role="reader")
    info = {c.id: c for c in h.connector.list_calendars()}[team]
    assert (info.can_write, info.owned, info.primary) == (False, False, False)
    with pytest.raises(PermissionDenied):
        h.connector.create_block(team, block("w10-1"))


def test_expired_sync_token_then_full_sync(google: FakeGoogle, h: Harness, email: str) -> None:
    cursor = h.connector.sync(email, None).next_cursor
    google.expire_sync_tokens(email)
    with pytest.raises(CursorExpired):
        h.connector.sync(email, cursor)
    fresh = h.connector.sync(email, None)
    assert h.connector.sync(email, fresh.next_cursor).changed == []


# --- blocks --------------------------------------------------------------------------------


def test_event_ids_are_base32hex() -> None:
    event_id = event_id_for_slot("12.2031-W10.1")
    assert set(event_id) <= set("0123456789abcdefghijklmnopqrstuv")
    assert 5 <= len(event_id) <= 1024
    assert event_id != event_id_for_slot("12.2031-W10.2")
    with pytest.raises(ValueError, match="3-640 bytes"):
        event_id_for_slot("w1")


def test_deleted_block_can_be_booked_again(google: FakeGoogle, h: Harness, email: str) -> None:
    first = h.connector.create_block(email, block("w10-1"))
    h.connector.delete_block(email, first.id)
    again = h.connector.create_block(email, block("w10-1", T0 + 3 * H))
    assert again.id == first.id
    assert again.start == T0 + 3 * H
    assert [e.id for e in h.connector.list_events(email, T0, T0 + WEEK)] == [first.id]


def test_update_to_a_taken_slot_conflicts(h: Harness, email: str) -> None:
    first = h.connector.create_block(email, block("w10-1"))
    h.connector.create_block(email, block("w10-2", T0 + 24 * H))
    with pytest.raises(Collision):
        h.connector.update_block(email, first.id, block("w10-2", T0 + 3 * H))


def test_unreadable_credentials_need_reauth(config: GoogleConfig) -> None:
    with pytest.raises(ReauthRequired):
        GoogleConnector(config, b"not json", lambda b: None)
    revoke(config, b"not json")  # nothing to revoke: no error


def test_focus_time_on_workspace_primary(google: FakeGoogle, h: Harness, email: str) -> None:
    spec = block("w10-1", focus_time=True, auto_decline="declineOnlyNewConflictingInvitations")
    created = h.connector.create_block(email, spec)
    assert created.event_type is EventType.FOCUS_TIME
    assert created.busy
    stored = google.event(email, created.id)
    assert stored["focusTimeProperties"]["autoDeclineMode"] == (
        "declineOnlyNewConflictingInvitations"
    )
    moved = h.connector.update_block(email, created.id, block("w10-1", T0 + H, focus_time=True))
    assert (moved.start, moved.event_type) == (T0 + H, EventType.FOCUS_TIME)
    assert h.connector.focus_time_unsupported == frozenset()


def test_focus_time_blocks_set_do_not_disturb_in_chat(
    google: FakeGoogle, h: Harness, email: str
) -> None:
    """Quiet during blocks, Google's own part: a focus-time block mutes Google Chat
    (`focusTimeProperties.chatStatus`), also after the block is moved; a plain block does not."""
    created = h.connector.create_block(email, block("w10-1", focus_time=True))
    assert google.event(email, created.id)["focusTimeProperties"]["chatStatus"] == "doNotDisturb"
    moved = h.connector.update_block(email, created.id, block("w10-1", T0 + H, focus_time=True))
    stored = google.event(email, moved.id)
    assert stored["eventType"] == "focusTime"
    assert stored["focusTimeProperties"]["chatStatus"] == "doNotDisturb"
    plain = h.connector.create_block(email, block("w10-2", T0 + 24 * H))
    assert "focusTimeProperties" not in google.event(email, plain.id)


def test_focus_time_falls_back_on_consumer_accounts(
    google: FakeGoogle, config: GoogleConfig
) -> None:
    email = google.add_account(f"c-{uuid.uuid4().hex[:8]}@gmail.com", workspace=False)
    h = Harness(google, config, email)
    google.requests.clear()
    first = h.connector.create_block(email, block("w10-1", focus_time=True))
    second = h.connector.create_block(email, block("w10-2", T0 + 24 * H, focus_time=True))
    assert first.event_type is second.event_type is EventType.DEFAULT
    assert first.busy and second.busy
    assert h.connector.focus_time_unsupported == frozenset({email})
    inserts = [r.json for r in google.requests if r.method == "POST" and r.path.endswith("/events")]
    assert [body.get("eventType") for body in inserts] == ["focusTime", None, None]


# --- RSVPs ---------------------------------------------------------------------------------


def test_decline_touches_only_own_attendee_entry(
    google: FakeGoogle, h: Harness, email: str
) -> None:
    invite = google.insert_invite(email, "Big sync", T0, T0 + H, attendee_count=4)
    before = google.event(email, invite)["attendees"]
    google.requests.clear()
    declined = h.connector.respond(email, invite, Response.DECLINE, "Protected growth time")
    assert declined.self_response is SelfResponse.DECLINED
    after = google.event(email, invite)["attendees"]
    assert [a for a in after if not a.get("self")] == [a for a in before if not a.get("self")]
    [mine] = [a for a in after if a.get("self")]
    assert (mine["responseStatus"], mine["comment"]) == ("declined", "Protected growth time")
    [patch] = [r for r in google.requests if r.method == "PATCH"]
    assert patch.query["sendUpdates"] == ["all"]
    assert patch.json == {
        "attendeesOmitted": True,
        "attendees": [
            {"email": email, "responseStatus": "declined", "comment": "Protected growth time"}
        ],
    }


def test_decline_one_instance_of_a_series(google: FakeGoogle, h: Harness, email: str) -> None:
    rule = ["RRULE:FREQ=WEEKLY;COUNT=3"]
    series = google.insert_invite(email, "Staff", T0, T0 + H, recurrence=rule)
    _, second, _ = h.connector.list_events(email, T0, T0 + 3 * WEEK)
    h.connector.respond(email, second.id, Response.DECLINE)
    master = google.event(email, series)
    assert {a["responseStatus"] for a in master["attendees"] if a.get("self")} == {"needsAction"}
    after = h.connector.list_events(email, T0, T0 + 3 * WEEK)
    assert [e.self_response for e in after] == [
        SelfResponse.NEEDS_ACTION,
        SelfResponse.DECLINED,
        SelfResponse.NEEDS_ACTION,
    ]


# --- push ----------------------------------------------------------------------------------


class Receiver:
    """A local webhook endpoint that records what it receives."""

    def __init__(self) -> None:
        self.hits: list[dict[str, str]] = []
        self.server = AsgiServer(
            Starlette(routes=[Route("/webhooks/google", self.hook, methods=["POST"])])
        )

    async def hook(self, request: Request) -> HttpResponse:
        assert await request.body() == b""
        self.hits.append({k.lower(): v for k, v in request.headers.items()})
        return HttpResponse(status_code=202)


def test_watch_delivers_notifications_and_unwatch_stops_them(
    google: FakeGoogle, h: Harness, email: str
) -> None:
    receiver = Receiver()
    with receiver.server:
        google.deliver_to(receiver.server.base_url)
        start = len(google.deliveries)
        watch = h.connector.watch(email, "https://hooks.growthguard.test/webhooks/google", "s3cr3t")
        assert watch.calendar_id == email and watch.resource_id
        assert watch.expires_at > datetime.now(UTC) + timedelta(days=6)
        google.wait_for_deliveries(start + 1)
        h.connector.create_block(email, block("w10-1"))
        sent = google.wait_for_deliveries(start + 2)[start:]
        assert [d.status for d in sent] == [202, 202]
        assert all(d.url.startswith(receiver.server.base_url) for d in sent)
        sync, change = receiver.hits
        assert sync["x-goog-channel-id"] == watch.id
        assert sync["x-goog-channel-token"] == "s3cr3t"
        assert sync["x-goog-resource-state"] == "sync"
        assert sync["x-goog-message-number"] == "1"
        assert change["x-goog-resource-state"] == "exists"
        assert int(change["x-goog-message-number"]) > 1
        assert change["x-goog-resource-id"] == watch.resource_id
        assert email in change["x-goog-resource-uri"]
        h.connector.unwatch(watch)
        h.connector.unwatch(watch)  # unknown now: ignored
        assert watch.id not in google.channels()
        h.connector.create_block(email, block("w10-2", T0 + H))
        assert len(google.wait_for_deliveries(start + 3, timeout=0.3)) == start + 2


# --- mapping -------------------------------------------------------------------------------


def test_mapping_of_a_rich_event() -> None:
    event = event_from_google(
        {
            "id": "abc12",
            "status": "tentative",
            "summary": "Offsite",
            "start": {"date": "2031-03-04"},
            "end": {"date": "2031-03-05"},
            "transparency": "transparent",
            "eventType": "outOfOffice",
            "hangoutLink": "https://meet.google.com/x",
            "organizer": {"email": "me@example.com", "self": True},
            "updated": "2031-03-01T10:00:00.000Z",
            "extendedProperties": {"private": {"gg_plan": "p"}},
        },
        "cal",
    )
    assert event.all_day and not event.busy
    assert event.start == datetime(2031, 3, 4, tzinfo=UTC)
    assert event.event_type is EventType.OUT_OF_OFFICE
    assert event.is_online_meeting and event.self_is_organizer
    assert event.self_response is None and event.tag is None
    assert event.updated == datetime(2031, 3, 1, 10, tzinfo=UTC)


# --- secrets -------------------------------------------------------------------------------


def assert_no_secrets(error: BaseException, h: Harness) -> None:
    """Neither the message nor anything it chains to mentions a token."""
    seen: BaseException | None = error
    while seen is not None:
        for secret in (h.creds["token"], h.creds["refresh_token"], "fake-client-secret"):
            assert secret not in str(seen) and secret not in repr(seen)
        seen = seen.__cause__ or seen.__context__
    assert isinstance(error, ConnectorError)
