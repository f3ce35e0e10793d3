"""Notification delivery against a real SMTP server (aiosmtpd) and a real HTTP receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db.models import Notification, NotificationChannel, NotificationDelivery
from app.db.session import transaction
from app.runtime import Runtime
from app.services.errors import InvalidInputError, NotFoundError
from app.services.notifications import channels, delivery, outbox
from app.services.notifications.delivery import Senders, SmtpSettings
from app.services.notifications.senders import smtp_sender
from app.services.people.users import create_user
from tests.fakes.receivers import Inbox, Receiver
from tests.support.servers import free_port

NOW = datetime(2027, 1, 11, 8, tzinfo=UTC)
REAUTH = {
    "account_id": 7,
    "provider": "google",
    "account": "me@corp.example",
    "message": "GrowthGuard lost access to me@corp.example; please reconnect it.",
}


def smtp(port: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        username="",
        password="",
        sender="growthguard@localhost.example",
        starttls=False,
    )


@pytest.fixture
def senders(inbox: tuple[Inbox, int]) -> Senders:
    return delivery.default_senders(smtp(inbox[1]), allow_loopback=True)


@pytest.fixture
def user_id(runtime: Runtime) -> int:
    with transaction(runtime.sessions) as session:
        user, _ = create_user(session, "me@corp.example", "UTC")
        return user.id


def add_channel(runtime: Runtime, user_id: int, kind: str, target: str) -> tuple[int, str | None]:
    with transaction(runtime.sessions) as session:
        channel, secret = channels.create_channel(
            session, runtime.cipher, user_id, kind, target, allow_loopback=True
        )
        return channel.id, secret


def record(runtime: Runtime, user_id: int, payload: dict[str, Any] | None = None) -> int:
    with transaction(runtime.sessions) as session:
        note = outbox.record(session, user_id, "account.needs_reauth", payload or REAUTH)
        assert note is not None
        session.flush()
        return note.id


def fan_out(runtime: Runtime, now: datetime = NOW) -> int:
    with transaction(runtime.sessions) as session:
        return delivery.fan_out(session, now)


def deliver(runtime: Runtime, senders: Senders, now: datetime) -> delivery.DeliveryReport:
    with transaction(runtime.sessions) as session:
        return delivery.deliver_due(session, now, senders=senders, cipher=runtime.cipher)


def deliveries(runtime: Runtime) -> dict[int, NotificationDelivery]:
    """Deliveries by channel id."""
    with runtime.sessions() as session:
        return {d.channel_id: d for d in session.scalars(select(NotificationDelivery))}


def note_status(runtime: Runtime, note_id: int) -> str:
    with runtime.sessions() as session:
        note = session.get(Notification, note_id)
        assert note is not None
        return note.status


def verify(body: bytes, signature: str, secret: str) -> bool:
    """What a receiver does with the secret it was shown once."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def test_email_arrives_with_subject_and_body(
    runtime: Runtime, user_id: int, inbox: tuple[Inbox, int], senders: Senders
):
    channel_id, secret = add_channel(runtime, user_id, "email", "Me@Corp.example")
    assert secret is None
    note_id = record(runtime, user_id)
    assert fan_out(runtime) == 1

    report = deliver(runtime, senders, NOW)

    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    [message] = inbox[0].messages
    assert inbox[0].recipients == [["Me@corp.example"]]
    assert message["Subject"] == "[GrowthGuard] A calendar account needs reconnecting"
    body = message.get_content()
    assert REAUTH["message"] in body
    assert "Provider: google" in body
    assert "Event: account.needs_reauth" in body
    sent = deliveries(runtime)[channel_id]
    assert (sent.status, sent.delivered_at, sent.attempts) == ("sent", NOW, 0)
    assert note_status(runtime, note_id) == "delivered"


def test_generic_webhook_is_signed_with_the_secret_shown_once(
    runtime: Runtime, user_id: int, receiver: Receiver, senders: Senders
):
    channel_id, secret = add_channel(runtime, user_id, "webhook", f"{receiver.base_url}/hook")
    assert secret is not None
    with runtime.sessions() as session:
        stored = session.get(NotificationChannel, channel_id)
        assert stored is not None and stored.secret is not None
        assert secret.encode() not in stored.secret  # encrypted at rest
    note_id = record(runtime, user_id)
    fan_out(runtime)

    assert deliver(runtime, senders, NOW).sent == 1

    [request] = receiver.requests
    assert request.path == "/hook"
    document = json.loads(request.body)
    assert document["id"] == note_id
    assert document["kind"] == "account.needs_reauth"
    assert datetime.fromisoformat(document["created_at"]).tzinfo is not None
    assert document["payload"] == REAUTH
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-growthguard-event"] == "account.needs_reauth"
    assert request.headers["x-growthguard-delivery"] == str(deliveries(runtime)[channel_id].id)
    signature = request.headers["x-growthguard-signature"]
    assert verify(request.body, signature, secret)
    assert not verify(request.body + b" ", signature, secret)
    assert not verify(request.body, signature, "ggwh_someone-elses-secret")


def test_slack_body_is_a_single_text_field(
    runtime: Runtime, user_id: int, receiver: Receiver, senders: Senders
):
    add_channel(runtime, user_id, "slack", f"http://localhost:{receiver.base_url.split(':')[-1]}/s")
    record(runtime, user_id, {"message": "Keep <Deep work> & rest"})
    fan_out(runtime)

    assert deliver(runtime, senders, NOW).sent == 1

    [request] = receiver.requests
    assert json.loads(request.body) == {
        "text": "*A calendar account needs reconnecting*\nKeep &lt;Deep work&gt; &amp; rest"
    }
    assert "x-growthguard-signature" not in request.headers


def test_failed_webhook_is_retried_with_backoff_until_delivered(
    runtime: Runtime, user_id: int, receiver: Receiver, senders: Senders
):
    url = f"{receiver.base_url}/hook"
    channel_id, _ = add_channel(runtime, user_id, "webhook", url)
    note_id = record(runtime, user_id)
    fan_out(runtime)
    receiver.faults.fail_next(2, status=500)

    assert deliver(runtime, senders, NOW).retrying == 1
    first = deliveries(runtime)[channel_id]
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.last_error == "DeliveryError: HTTP 500"
    assert first.next_attempt_at is not None
    assert NOW + timedelta(seconds=45) <= first.next_attempt_at <= NOW + timedelta(minutes=1)

    # Not due yet: nothing is attempted.
    early = deliver(runtime, senders, NOW + timedelta(seconds=30))
    assert (early.sent, early.retrying, early.failed) == (0, 0, 0)
    assert len(receiver.requests) == 1

    later = NOW + timedelta(minutes=1)
    assert deliver(runtime, senders, later).retrying == 1
    second = deliveries(runtime)[channel_id]
    assert second.attempts == 2
    assert second.next_attempt_at is not None
    assert later + timedelta(seconds=90) <= second.next_attempt_at <= later + timedelta(minutes=2)
    assert note_status(runtime, note_id) == "pending"

    last = later + timedelta(minutes=2)
    assert deliver(runtime, senders, last).sent == 1
    done = deliveries(runtime)[channel_id]
    assert (done.status, done.attempts, done.delivered_at, done.last_error) == (
        "sent",
        2,
        last,
        "",
    )
    assert len(receiver.requests) == 3
    # Every attempt is the same event under the same delivery id (receivers can deduplicate).
    assert len({r.headers["x-growthguard-delivery"] for r in receiver.requests}) == 1
    assert note_status(runtime, note_id) == "delivered"


def test_a_broken_smtp_server_does_not_stop_the_webhook(
    runtime: Runtime, user_id: int, receiver: Receiver
):
    broken = delivery.default_senders(smtp(free_port()), allow_loopback=True)
    email_id, _ = add_channel(runtime, user_id, "email", "me@corp.example")
    hook_id, _ = add_channel(runtime, user_id, "webhook", f"{receiver.base_url}/hook")
    note_id = record(runtime, user_id)
    assert fan_out(runtime) == 2

    report = deliver(runtime, broken, NOW)

    assert (report.sent, report.retrying, report.failed) == (1, 1, 0)
    rows = deliveries(runtime)
    assert rows[hook_id].status == "sent"
    assert rows[email_id].status == "pending"
    assert rows[email_id].last_error.startswith("ConnectionRefusedError")
    assert len(receiver.requests) == 1
    assert note_status(runtime, note_id) == "pending"  # waits for the email retry


def test_delivery_gives_up_after_eight_failures(runtime: Runtime, user_id: int, senders: Senders):
    url = "https://hooks.example.com/services/T0/B0/s3cr3t-token"
    channel_id, _ = add_channel(runtime, user_id, "slack", url)
    note_id = record(runtime, user_id)
    fan_out(runtime)

    def unreachable(url: str, body: bytes, headers: Any) -> None:
        raise OSError(f"cannot reach {url}")

    failing = Senders(email=senders.email, post_json=unreachable)
    now = NOW
    for attempt in range(1, 9):
        report = deliver(runtime, failing, now)
        assert (report.retrying, report.failed) == ((1, 0) if attempt < 8 else (0, 1))
        now += delivery.MAX_DELAY
    row = deliveries(runtime)[channel_id]
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 8, None)
    assert "s3cr3t" not in row.last_error  # a Slack URL is a credential
    assert row.last_error == "OSError: cannot reach [url]"
    assert note_status(runtime, note_id) == "failed"
    assert deliver(runtime, failing, now + timedelta(days=1)).failed == 0


def test_fan_out_is_idempotent(runtime: Runtime, user_id: int, receiver: Receiver):
    add_channel(runtime, user_id, "email", "me@corp.example")
    add_channel(runtime, user_id, "webhook", f"{receiver.base_url}/hook")
    with transaction(runtime.sessions) as session:
        off, _ = channels.create_channel(
            session, runtime.cipher, user_id, "slack", "https://hooks.example.com/off"
        )
        off.active = False
        lonely, _ = create_user(session, "lonely@corp.example", "UTC")
        lonely_id = lonely.id
    first, second = record(runtime, user_id), record(runtime, user_id)
    quiet = record(runtime, lonely_id)

    assert fan_out(runtime) == 4
    assert fan_out(runtime) == 0
    assert fan_out(runtime, NOW + timedelta(hours=1)) == 0

    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(NotificationDelivery)) == 4
    assert note_status(runtime, first) == note_status(runtime, second) == "pending"
    assert note_status(runtime, quiet) == "delivered"  # no channels: the in-app list only


def test_deleting_a_channel_settles_what_was_waiting_for_it(
    runtime: Runtime, user_id: int, receiver: Receiver, senders: Senders
):
    add_channel(runtime, user_id, "webhook", f"{receiver.base_url}/hook")
    broken_id, _ = add_channel(runtime, user_id, "email", "me@corp.example")
    note_id = record(runtime, user_id)
    fan_out(runtime)
    deliver(runtime, delivery.default_senders(smtp(free_port()), allow_loopback=True), NOW)
    assert note_status(runtime, note_id) == "pending"

    with transaction(runtime.sessions) as session:
        channels.delete_channel(session, user_id, broken_id)
    fan_out(runtime)

    assert note_status(runtime, note_id) == "delivered"
    assert broken_id not in deliveries(runtime)


@pytest.mark.parametrize(
    ("kind", "target", "field"),
    [
        ("sms", "+15550100", "kind"),
        ("email", "not-an-address", "target"),
        ("email", "me@corp.example\nBcc: all@corp.example", "target"),
        ("slack", "http://hooks.example.com/services/x", "target"),
        ("webhook", "ftp://example.com/hook", "target"),
        ("webhook", "not a url", "target"),
        ("webhook", "https://user:pw@example.com/hook", "target"),
        ("webhook", "https://example.com:99999/hook", "target"),
        ("webhook", "https://example.com/" + "x" * 2048, "target"),
    ],
)
def test_invalid_channels_name_the_field(
    runtime: Runtime, user_id: int, kind: str, target: str, field: str
):
    with (
        transaction(runtime.sessions) as session,
        pytest.raises(InvalidInputError) as info,
    ):
        channels.create_channel(session, runtime.cipher, user_id, kind, target, allow_loopback=True)
    assert [name for name, _ in info.value.problems] == [field]


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("webhook", "http://localhost:9000/hook"),
        ("webhook", "http://127.0.0.1/hook"),
        ("slack", "https://hooks.slack.com/services/T0/B0/abc"),
        ("email", "someone@corp.example"),
    ],
)
def test_valid_channels_are_accepted(runtime: Runtime, user_id: int, kind: str, target: str):
    channel_id, secret = add_channel(runtime, user_id, kind, target)
    assert (secret is not None) == (kind == "webhook")
    with runtime.sessions() as session:
        assert [c.id for c in channels.list_channels(session, user_id)] == [channel_id]


def test_channels_belong_to_their_user(runtime: Runtime, user_id: int, senders: Senders):
    channel_id, _ = add_channel(runtime, user_id, "email", "me@corp.example")
    with transaction(runtime.sessions) as session:
        other, _ = create_user(session, "other@corp.example", "UTC")
        other_id = other.id
    with transaction(runtime.sessions) as session:
        assert channels.list_channels(session, other_id) == []
        with pytest.raises(NotFoundError):
            channels.delete_channel(session, other_id, channel_id)
        with pytest.raises(NotFoundError):
            delivery.send_test(session, runtime.cipher, other_id, channel_id, NOW, senders)
        with pytest.raises(NotFoundError):
            channels.delete_channel(session, user_id, channel_id + 1000)
    with transaction(runtime.sessions) as session:
        channels.delete_channel(session, user_id, channel_id)
    with runtime.sessions() as session:
        assert channels.list_channels(session, user_id) == []


def test_send_test_delivers_now_and_records_nothing(
    runtime: Runtime, user_id: int, receiver: Receiver, inbox: tuple[Inbox, int], senders: Senders
):
    hook_id, secret = add_channel(runtime, user_id, "webhook", f"{receiver.base_url}/hook")
    email_id, _ = add_channel(runtime, user_id, "email", "me@corp.example")
    dead_id, _ = add_channel(runtime, user_id, "webhook", f"http://127.0.0.1:{free_port()}/x")
    assert secret is not None

    with transaction(runtime.sessions) as session:
        assert delivery.send_test(session, runtime.cipher, user_id, hook_id, NOW, senders)
        assert delivery.send_test(session, runtime.cipher, user_id, email_id, NOW, senders)
        assert not delivery.send_test(session, runtime.cipher, user_id, dead_id, NOW, senders)

    [request] = receiver.requests
    assert request.headers["x-growthguard-event"] == "test"
    assert json.loads(request.body)["kind"] == "test"
    assert verify(request.body, request.headers["x-growthguard-signature"], secret)
    assert inbox[0].messages[0]["Subject"] == "[GrowthGuard] Test notification"
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 0
        assert session.scalar(select(func.count()).select_from(NotificationDelivery)) == 0


def test_backoff_doubles_from_one_minute_and_caps_at_an_hour():
    top, bottom = (lambda: 1.0), (lambda: 0.0)
    assert [delivery.backoff(n, top) for n in (1, 2, 3, 4)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8)
    ]
    assert delivery.backoff(7, top) == delivery.backoff(30, top) == timedelta(hours=1)
    assert delivery.backoff(1, bottom) == timedelta(seconds=45)


def test_remote_smtp_login_requires_starttls():
    config = SmtpSettings("smtp.corp.example", 25, "relay", "pw", "gg@corp.example", False)
    assert "pw" not in repr(config)
    with pytest.raises(delivery.DeliveryError, match="STARTTLS"):
        smtp_sender(config)("me@corp.example", "subject", "text")


def test_a_programming_error_fails_at_once_and_keeps_its_message_without_secrets(
    runtime: Runtime, user_id: int, senders: Senders
):
    channel_id, _ = add_channel(runtime, user_id, "webhook", "https://hooks.example.com/h")
    signatures: list[str] = []

    def explode(url: str, body: bytes, headers: Any) -> None:
        signatures.append(headers["X-GrowthGuard-Signature"])
        raise RuntimeError(f"boom posting to {url} with {headers['X-GrowthGuard-Signature']}")

    record(runtime, user_id)
    fan_out(runtime)
    report = deliver(runtime, Senders(email=senders.email, post_json=explode), NOW)

    # Before: retried 8 times over hours, and only "RuntimeError" was kept.
    assert (report.retrying, report.failed) == (0, 1)
    row = deliveries(runtime)[channel_id]
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error.startswith("RuntimeError: boom posting to [url] with ")
    assert signatures and signatures[0].split("=")[-1] not in row.last_error
    assert "hooks.example.com" not in row.last_error
