"""MicrosoftConnector behaviour beyond the contract: sign-in checks, tokens, throttling,
concurrency, delta edge cases, RSVPs on series and push subscriptions (fake Graph, no network)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.responses import Response as HttpResponse
from starlette.routing import Route

from connectors.base import CalendarInfo, Response, SelfResponse
from connectors.errors import (
    ConnectorError,
    CursorExpired,
    NotFound,
    PermissionDenied,
    RateLimited,
    ReauthRequired,
    TransientError,
)
from connectors.microsoft import (
    AuthorizationFailed,
    MicrosoftConfig,
    MicrosoftConnector,
    MicrosoftGrant,
    finish_authorization,
    forget_tokens,
    make_factory,
    start_authorization,
)
from tests.contract.suite import T0, WEEK, H, spec
from tests.fakes.graph_server import FakeGraphServer
from tests.support.microsoft import Factory, calendar, sign_in
from tests.support.servers import AsgiServer


@pytest.fixture(autouse=True)
def _clean_failures(fake: FakeGraphServer) -> Iterator[None]:
    yield
    fake.faults.clear()  # the fake is shared by the module: leave no planned failure behind


# --- sign-in -------------------------------------------------------------------------------------


def test_grant_names_the_account(grant: MicrosoftGrant, email: str) -> None:
    assert grant.email == email
    assert grant.home_account_id.count(".") == 1  # uid.utid from client_info
    assert b'"RefreshToken"' in grant.token_cache


def test_tampered_state_is_refused(
    fake: FakeGraphServer, config: MicrosoftConfig, email: str
) -> None:
    flow = start_authorization(config)
    answer = fake.authorize(flow["auth_uri"]) | {"state": "forged"}
    with pytest.raises(AuthorizationFailed, match="does not match"):
        finish_authorization(config, flow, answer)


def test_wrong_pkce_verifier_is_rejected_by_the_server(
    fake: FakeGraphServer, config: MicrosoftConfig, email: str
) -> None:
    flow = start_authorization(config)
    answer = fake.authorize(flow["auth_uri"])
    flow["code_verifier"] = "x" * 43
    with pytest.raises(AuthorizationFailed, match="invalid_grant"):
        finish_authorization(config, flow, answer)


def test_nonce_mismatch_is_refused(
    fake: FakeGraphServer, config: MicrosoftConfig, email: str
) -> None:
    flow = start_authorization(config)
    answer = fake.authorize(flow["auth_uri"])
    fake.identity.nonce_override = "replayed-nonce"
    try:
        with pytest.raises(AuthorizationFailed, match="nonce"):
            finish_authorization(config, flow, answer)
    finally:
        fake.identity.nonce_override = None


def test_denied_consent_and_reused_code_are_refused(
    fake: FakeGraphServer, config: MicrosoftConfig, email: str
) -> None:
    fake.identity.deny_with = "access_denied"
    flow = start_authorization(config)
    with pytest.raises(AuthorizationFailed, match="access_denied"):
        finish_authorization(config, flow, fake.authorize(flow["auth_uri"]))
    flow = start_authorization(config)
    answer = fake.authorize(flow["auth_uri"])
    finish_authorization(config, dict(flow), answer)
    with pytest.raises(AuthorizationFailed, match="invalid_grant"):
        finish_authorization(config, flow, answer)


def test_forget_tokens_empties_the_cache(config: MicrosoftConfig, grant: MicrosoftGrant) -> None:
    emptied = forget_tokens(config, grant.token_cache)
    assert grant.home_account_id.encode() not in emptied
    with pytest.raises(ReauthRequired):
        MicrosoftConnector(config, emptied, lambda blob: None).list_calendars()


def test_factory_needs_credentials(config: MicrosoftConfig, grant: MicrosoftGrant) -> None:
    factory = make_factory(config)
    with pytest.raises(ReauthRequired):
        factory(None, lambda blob: None)
    connector = factory(grant.token_cache, lambda blob: None)
    assert connector.provider == "microsoft"
    assert any(c.primary for c in connector.list_calendars())


# --- tokens --------------------------------------------------------------------------------------


def test_cache_saved_only_when_it_changed(
    fake: FakeGraphServer, config: MicrosoftConfig, make: Factory, email: str
) -> None:
    saved: list[bytes] = []
    connector = make(saved.append)
    connector.list_calendars()
    connector.list_calendars()
    assert saved == []  # the cached access token was still good
    fake.identity.access_token_lifetime = 60  # MSAL treats < 5 min left as expired
    try:
        short = sign_in(fake, config, email)
    finally:
        fake.identity.access_token_lifetime = 3600
    refreshed = MicrosoftConnector(config, short.token_cache, saved.append)
    refreshed.list_calendars()
    refreshed.close()
    assert len(saved) == 1
    again = MicrosoftConnector(config, saved[0], saved.append)
    assert again.list_calendars()
    again.close()


def test_revoked_grant_after_expiry_needs_reauth(
    fake: FakeGraphServer, config: MicrosoftConfig, email: str
) -> None:
    fake.identity.access_token_lifetime = 60
    try:
        short = sign_in(fake, config, email)
    finally:
        fake.identity.access_token_lifetime = 3600
    fake.revoke_grant(email)
    connector = MicrosoftConnector(config, short.token_cache, lambda blob: None)
    with pytest.raises(ReauthRequired):
        connector.list_calendars()
    connector.close()


def test_revoked_grant_with_cached_token_needs_reauth(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector = make()
    connector.list_calendars()
    fake.revoke_grant(email)  # Graph now refuses the cached token, refresh fails too
    with pytest.raises(ReauthRequired):
        connector.list_calendars()


def test_expired_token_on_graph_is_refreshed_once(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    saved: list[bytes] = []
    connector = make(saved.append)
    connector.list_calendars()
    fake.identity.expire_access_tokens(email)
    assert connector.list_calendars()
    assert len(saved) == 1


def test_prefer_headers_on_every_call(fake: FakeGraphServer, make: Factory, email: str) -> None:
    connector = make(clock=lambda: T0)
    connector.list_events(calendar(fake, email), T0, T0 + WEEK)
    connector.sync(calendar(fake, email), None)
    recorded = fake.graph_requests("/calendarView")
    assert recorded
    for request in recorded:
        assert 'outlook.timezone="UTC"' in request.prefer
        assert 'IdType="ImmutableId"' in request.prefer
        assert request.authorized


# --- throttling and concurrency ----------------------------------------------------------------


def test_throttling_is_one_attempt_carrying_retry_after(
    fake: FakeGraphServer, make: Factory
) -> None:
    fake.faults.fail_next(10, status=429, retry_after=90, path="/me/calendars")
    connector = make()
    before = len(fake.graph_requests("/me/calendars"))
    with pytest.raises(RateLimited) as caught:
        connector.list_calendars()
    assert caught.value.retry_after == 90
    assert len(fake.graph_requests("/me/calendars")) - before == 1  # no retry, no sleeping


def test_503_with_retry_after_is_a_rate_limit(fake: FakeGraphServer, make: Factory) -> None:
    fake.faults.fail_next(status=503, retry_after=600, path="/me/calendars")
    with pytest.raises(RateLimited) as caught:
        make().list_calendars()
    assert caught.value.retry_after == 600


def test_server_errors_are_transient_and_not_retried(fake: FakeGraphServer, make: Factory) -> None:
    fake.faults.fail_next(4, status=500, path="/me/calendars")
    connector = make()
    before = len(fake.graph_requests("/me/calendars"))
    with pytest.raises(TransientError) as caught:
        connector.list_calendars()
    assert not isinstance(caught.value, RateLimited)
    assert len(fake.graph_requests("/me/calendars")) - before == 1


def test_a_failed_create_is_retried_by_the_caller_idempotently(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector, cal = make(), calendar(fake, email)
    fake.faults.fail_next(status=502, path="/events", method="POST")
    with pytest.raises(TransientError):
        connector.create_block(cal, spec("w10-1", T0))
    block = connector.create_block(cal, spec("w10-1", T0))  # the caller retries: idempotent
    assert connector.create_block(cal, spec("w10-1", T0)).id == block.id
    assert [e.id for e in fake.events(email, cal)] == [block.id]


def test_at_most_four_concurrent_requests_per_mailbox(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connectors = [make() for _ in range(8)]  # separate instances, one mailbox
    for connector in connectors:
        connector.list_calendars()  # warm MSAL up outside the measured part
    fake.latency = 0.05
    errors: list[BaseException] = []

    def work(connector: MicrosoftConnector) -> None:
        try:
            for _ in range(3):
                connector.list_calendars()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(c,)) for c in connectors]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    finally:
        fake.latency = 0.0
    assert errors == []
    assert 2 <= fake.max_concurrency(email) <= 4


# --- sync ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["syncStateNotFound", "gone"])
def test_expired_delta_then_full_sync_recovers(
    fake: FakeGraphServer, make: Factory, email: str, style: str
) -> None:
    connector, cal = make(clock=lambda: T0), calendar(fake, email)
    first = fake.add_event(email, cal, "one", T0, T0 + H)
    cursor = connector.sync(cal, None).next_cursor
    fake.expire_delta_tokens(style)
    with pytest.raises(CursorExpired):
        connector.sync(cal, cursor)
    page = connector.sync(cal, None)
    assert [e.id for e in page.changed] == [first]
    assert connector.sync(cal, page.next_cursor).changed == []


def test_removed_items_and_moves_out_of_the_window(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector, cal = make(clock=lambda: T0), calendar(fake, email)
    leaving = fake.add_event(email, cal, "leaving", T0, T0 + H)
    cursor = connector.sync(cal, None).next_cursor
    fake.update_event(email, leaving, start=T0 + 30 * WEEK, end=T0 + 30 * WEEK + H)
    page = connector.sync(cal, cursor)
    assert (page.changed, page.removed_ids) == ([], [leaving])
    replay = connector.sync(cal, cursor)  # replaying an old cursor is harmless
    assert replay.removed_ids == [leaving]


def test_paged_delta_and_tags(fake: FakeGraphServer, make: Factory, email: str) -> None:
    connector, cal = make(clock=lambda: T0), calendar(fake, email)
    for n in range(130):  # more than one page of 100
        fake.add_event(email, cal, f"e{n}", T0 + n * H, T0 + n * H + H / 2)
    block = connector.create_block(cal, spec("w10-1", T0 - 2 * H))
    page = connector.sync(cal, None)
    assert len(page.changed) == 131
    assert {e.id: e.tag for e in page.changed if e.tag} == {block.id: block.tag}
    assert len(connector.list_events(cal, T0 - WEEK, T0 + 20 * WEEK)) == 131


def test_bad_cursors_are_expired(fake: FakeGraphServer, make: Factory, email: str) -> None:
    other = fake.add_calendar(email, "Other")
    connector, cal = make(clock=lambda: T0), calendar(fake, email)
    cursor = connector.sync(other, None).next_cursor
    for bad in ("garbage", cursor, cursor.replace("graph.microsoft.com", "evil.example")):
        with pytest.raises(CursorExpired):
            connector.sync(cal, bad)
    drifted = make(clock=lambda: T0 + 2 * WEEK)
    with pytest.raises(CursorExpired, match="drifted"):
        drifted.sync(other, cursor)


def test_read_only_calendar_refuses_writes(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    shared = fake.add_calendar(email, "Team", can_edit=False, owner="boss@example.com")
    connector = make()
    info = {c.id: c for c in connector.list_calendars()}[shared]
    assert info == CalendarInfo(shared, "Team", primary=False, can_write=False, owned=False)
    with pytest.raises(PermissionDenied):
        connector.create_block(shared, spec("w10-1", T0))


# --- RSVPs ---------------------------------------------------------------------------------------


def test_decline_one_occurrence_records_comment_and_proposal(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector, cal = make(), calendar(fake, email)
    master = fake.add_weekly_series(email, cal, "Staff", T0, H, 3, organizer="boss@example.com")
    first, second, third = fake.occurrences(email, master)
    proposal = (T0 + WEEK + 3 * H, T0 + WEEK + 4 * H)
    event = connector.respond(cal, second.id, Response.DECLINE, "Growth time", propose=proposal)
    assert event.id == second.id and event.series_id == master
    assert [o.own_response for o in fake.occurrences(email, master)] == [
        "notResponded",
        "declined",
        "notResponded",
    ]
    [recorded] = fake.responses(email, second.id)
    assert (recorded.response, recorded.comment, recorded.send_response) == (
        "decline",
        "Growth time",
        True,
    )
    assert recorded.proposed == proposal
    with pytest.raises(ValueError, match="propose"):
        connector.respond(cal, third.id, Response.ACCEPT, propose=proposal)
    fake.cancel_event(email, first.id)
    with pytest.raises(NotFound):
        connector.respond(cal, first.id, Response.DECLINE)


def test_an_invite_that_wants_no_response_is_answered_without_sending_one(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector, cal = make(), calendar(fake, email)
    quiet = fake.insert_invite(
        email, cal, "FYI: all hands", T0, T0 + H, "ceo@example.com", response_requested=False
    )
    # Before: sendResponse true was sent anyway, and Graph (the fake too, now) refused it.
    event = connector.respond(cal, quiet, Response.DECLINE, "Growth time", propose=(T0, T0 + H))
    assert event.self_response is SelfResponse.DECLINED
    [recorded] = fake.responses(email, quiet)
    assert (recorded.send_response, recorded.proposed) == (False, None)


def test_a_new_time_is_proposed_only_where_the_meeting_allows_it(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector, cal = make(), calendar(fake, email)
    fixed = fake.insert_invite(
        email, cal, "Board", T0, T0 + H, "chair@example.com", allow_new_time_proposals=False
    )
    proposal = (T0 + 2 * H, T0 + 3 * H)
    connector.respond(cal, fixed, Response.DECLINE, "Growth time", propose=proposal)
    [recorded] = fake.responses(email, fixed)
    assert (recorded.send_response, recorded.comment, recorded.proposed) == (
        True,
        "Growth time",
        None,
    )


def test_the_fake_refuses_what_graph_refuses(fake: FakeGraphServer, make: Factory, email: str):
    connector, cal = make(), calendar(fake, email)
    quiet = fake.insert_invite(
        email, cal, "FYI", T0, T0 + H, "ceo@example.com", response_requested=False
    )
    fixed = fake.insert_invite(
        email, cal, "Board", T0, T0 + H, "chair@example.com", allow_new_time_proposals=False
    )
    with pytest.raises(ConnectorError, match="400"):
        connector.client.request("POST", f"/me/events/{quiet}/decline", json={})
    slot = {"dateTime": "2031-01-01T10:00:00", "timeZone": "UTC"}
    with pytest.raises(ConnectorError, match="400"):
        connector.client.request(
            "POST",
            f"/me/events/{fixed}/decline",
            json={"sendResponse": True, "proposedNewTime": {"start": slot, "end": slot}},
        )


# --- push ----------------------------------------------------------------------------------------


class Receiver:
    """A webhook endpoint: answers validation handshakes, records notifications."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.echo = True
        self.server = AsgiServer(
            Starlette(routes=[Route("/{p:path}", self.hook, methods=["POST"])])
        )

    async def hook(self, request: Request) -> HttpResponse:
        token = request.query_params.get("validationToken")
        if token is not None:
            return PlainTextResponse(token if self.echo else "nope")
        self.received.append((request.url.path, await request.json()))
        return JSONResponse({}, 202)


@pytest.fixture
def receiver(fake: FakeGraphServer) -> Iterator[Receiver]:
    hook = Receiver()
    with hook.server:
        fake.deliver_to(hook.server.base_url)
        yield hook
        fake.deliver_to(None)


HOOK = "https://hooks.growthguard.example/webhooks/graph"


def test_watch_notify_renew_unwatch(
    fake: FakeGraphServer, make: Factory, email: str, receiver: Receiver
) -> None:
    now = datetime.now(UTC)
    connector, cal = make(), calendar(fake, email)
    watch = connector.watch(cal, HOOK, "s3cret-state")
    assert timedelta(hours=69) < watch.expires_at - now < timedelta(minutes=4230)
    assert (watch.calendar_id, watch.resource_id, watch.secret) == (cal, None, "s3cret-state")
    sub = fake.push.subscriptions[watch.id]
    assert sub.lifecycle_url == HOOK + "/lifecycle"
    event_id = fake.add_event(email, cal, "new", T0, T0 + H)
    [delivery] = fake.wait_for_deliveries(len(fake.push.deliveries) + 1)[-1:]
    assert delivery.status == 202
    [item] = receiver.received[-1][1]["value"]
    assert (item["clientState"], item["changeType"]) == ("s3cret-state", "created")
    assert item["resourceData"]["id"] == event_id
    fake.send_lifecycle(watch.id, "reauthorizationRequired")
    fake.wait_for_deliveries(len(fake.push.deliveries) + 1)
    assert receiver.received[-1][0] == "/webhooks/graph/lifecycle"
    assert receiver.received[-1][1]["value"][0]["lifecycleEvent"] == "reauthorizationRequired"

    stale = dataclasses.replace(watch, expires_at=now - timedelta(hours=1))
    renewed = connector.renew_watch(stale)
    assert renewed.id == watch.id and renewed.expires_at > now + timedelta(hours=69)
    connector.unwatch(renewed)
    assert watch.id not in fake.push.subscriptions
    connector.unwatch(renewed)  # already gone: ignored
    with pytest.raises(NotFound):
        connector.renew_watch(renewed)


def test_failed_validation_handshake(
    fake: FakeGraphServer, make: Factory, email: str, receiver: Receiver
) -> None:
    receiver.echo = False
    with pytest.raises(ConnectorError, match="ValidationError") as caught:
        make().watch(calendar(fake, email), HOOK, "s3cret")
    assert not isinstance(caught.value, TransientError)


# --- secrets -------------------------------------------------------------------------------------


def test_no_token_in_any_error_message(
    fake: FakeGraphServer, config: MicrosoftConfig, make: Factory, email: str
) -> None:
    connector, cal = make(), calendar(fake, email)
    errors: list[ConnectorError] = []
    with pytest.raises(NotFound) as not_found:
        connector.update_block(cal, "nope", spec("w", T0))
    errors.append(not_found.value)
    fake.faults.fail_next(status=429, retry_after=1, path="/me/calendars")
    with pytest.raises(RateLimited) as throttled:
        connector.list_calendars()
    errors.append(throttled.value)
    flow = start_authorization(config)
    with pytest.raises(AuthorizationFailed) as refused:
        finish_authorization(config, flow, {"state": "forged", "code": "M.Cstolen"})
    errors.append(refused.value)
    fake.revoke_grant(email)
    with pytest.raises(ReauthRequired) as revoked:
        connector.list_calendars()
    errors.append(revoked.value)
    secrets = list(fake.identity.access_tokens) + list(fake.identity.refresh_tokens)
    for error in errors:
        chain = [error, error.__cause__, error.__context__]
        text = " ".join(f"{e!s} {e!r}" for e in chain if e is not None)
        assert not any(secret in text for secret in secrets), text
