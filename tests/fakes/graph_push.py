"""Change-notification subscriptions of the fake Graph server.

Creation performs the validation handshake against both URLs (POST `?validationToken=...`, a
200 `text/plain` echo within `validation_timeout`). Changes to events in a subscribed calendar
are POSTed to the notification URL from a background thread; lifecycle events on demand.
Registered URLs must be https (like Graph); `deliver_base` replaces their scheme and host for
actual delivery, as a TLS-terminating proxy in front of the receiving service would.
"""

from __future__ import annotations

import queue
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.fakes.graph_state import FakeEvent, FakeUser, GraphState, new_id

MAX_MINUTES = 4230  # Outlook event subscriptions live under 3 days
Reply = tuple[int, dict[str, Any] | None]


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant as Graph writes it (7 fractional digits, Z or offset)."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.strip().replace("Z", "+00:00"))
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def graph_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


@dataclass
class Subscription:
    id: str
    email: str
    resource: str
    calendar_id: str | None  # None: every calendar (/me/events)
    change_types: set[str]
    notification_url: str
    lifecycle_url: str | None
    expires: datetime
    client_state: str | None

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": "00000000-0000-0000-0000-00000000a991",
            "changeType": ",".join(sorted(self.change_types)),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": graph_time(self.expires),
            "latestSupportedTlsVersion": "v1_2",
        }


@dataclass
class Delivery:
    url: str  # the registered URL
    payload: dict[str, Any]
    status: int | None  # None when the receiver could not be reached


@dataclass
class Push:
    state: GraphState
    deliver_base: str | None = None
    validation_timeout: float = 10.0
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _queue: queue.Queue[tuple[str, dict[str, Any]] | None] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None
    _delivered: threading.Condition = field(default_factory=threading.Condition)

    # --- lifecycle of the delivery thread -----------------------------------------------------

    def start(self) -> None:
        self.state.listeners.append(self.on_change)
        self._thread = threading.Thread(target=self._run, name="fake-graph-push", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def target(self, url: str) -> str:
        if self.deliver_base is None:
            return url
        base, parts = urlsplit(self.deliver_base), urlsplit(url)
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))

    def _run(self) -> None:
        with httpx.Client(trust_env=False, timeout=5.0) as client:
            while (item := self._queue.get()) is not None:
                url, payload = item
                status: int | None
                try:
                    status = client.post(self.target(url), json=payload).status_code
                except httpx.HTTPError:
                    status = None
                with self._delivered:
                    self.deliveries.append(Delivery(url, payload, status))
                    self._delivered.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """Block until at least `count` deliveries were attempted; return them all."""
        with self._delivered:
            self._delivered.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)

    # --- Graph endpoints ----------------------------------------------------------------------

    def create(self, email: str, body: dict[str, Any]) -> Reply:
        url, lifecycle = body.get("notificationUrl", ""), body.get("lifecycleNotificationUrl")
        for candidate in filter(None, [url, lifecycle]):
            if not str(candidate).startswith("https://"):
                return _error(400, "ValidationError", "The Notification Url must be https.")
        resource = str(body.get("resource", "")).strip("/")
        match = re.fullmatch(r"me/(?:calendars/([^/]+)/)?events", resource)
        user = self.state.user(email)
        if match is None or (match[1] and match[1] not in user.calendars):
            return _error(400, "ExtensionError", "Unsupported or unknown resource.")
        changes = set(str(body.get("changeType", "")).split(","))
        if not changes or not changes <= {"created", "updated", "deleted"}:
            return _error(400, "InvalidRequest", "Invalid changeType.")
        expires = self._expiry(body)
        if isinstance(expires, tuple):
            return expires
        client_state = body.get("clientState")
        if client_state is not None and len(client_state) > 128:
            return _error(400, "InvalidRequest", "clientState is longer than 128 characters.")
        for candidate in filter(None, [url, lifecycle]):
            if not self._validate(candidate):
                return _error(400, "ValidationError", "Subscription validation request failed.")
        sub = Subscription(
            new_id("sub-"), email, resource, match[1], changes, url, lifecycle, expires,
            client_state,
        )  # fmt: skip
        self.subscriptions[sub.id] = sub
        return 201, sub.render()

    def renew(self, email: str, sub_id: str, body: dict[str, Any]) -> Reply:
        sub = self.subscriptions.get(sub_id)
        if sub is None or sub.email != email:
            return _error(404, "ResourceNotFound", "The object was not found.")
        expires = self._expiry(body)
        if isinstance(expires, tuple):
            return expires
        sub.expires = expires
        return 200, sub.render()

    def delete(self, email: str, sub_id: str) -> Reply:
        sub = self.subscriptions.get(sub_id)
        if sub is None or sub.email != email:
            return _error(404, "ResourceNotFound", "The object was not found.")
        del self.subscriptions[sub_id]
        return 204, None

    def get(self, email: str, sub_id: str) -> Reply:
        sub = self.subscriptions.get(sub_id)
        if sub is None or sub.email != email:
            return _error(404, "ResourceNotFound", "The object was not found.")
        return 200, sub.render()

    # --- notifications ------------------------------------------------------------------------

    def on_change(self, user: FakeUser, event: FakeEvent) -> None:
        """State listener: queue a notification per matching live subscription."""
        change = "deleted" if event.deleted else "updated" if event.id in self._seen else "created"
        self._seen.add(event.id)
        now = datetime.now(UTC)
        for sub in list(self.subscriptions.values()):
            if sub.email != user.email or sub.expires <= now or change not in sub.change_types:
                continue
            if sub.calendar_id is not None and sub.calendar_id != event.calendar_id:
                continue
            resource = f"Users/{user.oid}/Events/{event.id}"
            item = {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": graph_time(sub.expires),
                "changeType": change,
                "resource": resource,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "@odata.etag": f'W/"{event.seq}"',
                    "id": event.id,
                },
                "clientState": sub.client_state,
                "tenantId": user.tid,
            }
            self._queue.put((sub.notification_url, {"value": [item]}))

    def lifecycle(self, sub_id: str, lifecycle_event: str) -> None:
        """Send `reauthorizationRequired`, `subscriptionRemoved` or `missed` for a subscription."""
        sub = self.subscriptions[sub_id]
        user = self.state.user(sub.email)
        item = {
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": graph_time(sub.expires),
            "tenantId": user.tid,
            "clientState": sub.client_state,
            "lifecycleEvent": lifecycle_event,
        }
        if lifecycle_event == "subscriptionRemoved":
            self.subscriptions.pop(sub_id, None)
        self._queue.put((sub.lifecycle_url or sub.notification_url, {"value": [item]}))

    # --- helpers ------------------------------------------------------------------------------

    def _expiry(self, body: dict[str, Any]) -> datetime | Reply:
        try:
            expires = parse_instant(str(body["expirationDateTime"]))
        except (KeyError, ValueError):
            return _error(400, "InvalidRequest", "expirationDateTime is missing or invalid.")
        now = datetime.now(UTC)
        if expires <= now:
            return _error(400, "InvalidRequest", "expirationDateTime must be in the future.")
        if expires > now + timedelta(minutes=MAX_MINUTES):
            return _error(
                400,
                "InvalidRequest",
                f"Subscription expiration can only be {MAX_MINUTES} minutes in the future.",
            )
        return expires

    def _validate(self, url: str) -> bool:
        token = f"Validation: Testing client application reachability {secrets.token_hex(8)}"
        try:
            with httpx.Client(trust_env=False, timeout=self.validation_timeout) as client:
                reply = client.post(
                    self.target(url),
                    params={"validationToken": token},
                    headers={"Content-Type": "text/plain; charset=utf-8"},
                )
        except httpx.HTTPError:
            return False
        return (
            reply.status_code == 200
            and reply.headers.get("content-type", "").startswith("text/plain")
            and reply.text == token
        )


def _error(status: int, code: str, message: str) -> Reply:
    return status, {"error": {"code": code, "message": message}}
