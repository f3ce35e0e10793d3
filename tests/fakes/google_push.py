"""Push channels of the fake Google server: events.watch, channels.stop, webhook delivery."""

from __future__ import annotations

import copy
import queue
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from tests.fakes.google_store import JSON, ApiError

__all__ = ["Delivery", "PushHub"]


@dataclass
class Delivery:
    """One push notification the fake sent (`status` None when the POST failed)."""

    channel_id: str
    url: str
    headers: dict[str, str]
    status: int | None


@dataclass
class _Channel:
    id: str
    resource_id: str
    calendar_id: str
    address: str
    token: str | None
    expiration: int
    number: int = 0


_CHANNEL_ID = re.compile(r"[A-Za-z0-9\-_+/=]{1,64}")


def _resource_uri(calendar_id: str) -> str:
    return f"https://www.googleapis.com/calendar/v3/calendars/{calendar_id}/events?alt=json"


def _http_date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


class PushHub:
    """Channels and a background sender, so API calls never wait for a webhook."""

    def __init__(self, lock: threading.RLock) -> None:
        self.deliveries: list[Delivery] = []
        self.deliver_base: str | None = None
        self._channels: dict[str, _Channel] = {}
        self._outbox: queue.Queue[tuple[_Channel, str, int] | None] = queue.Queue()
        self._delivered = threading.Condition(lock)
        self._worker = threading.Thread(target=self._loop, name="fake-google-push", daemon=True)

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._outbox.put(None)
        self._worker.join(timeout=10)

    def channel_ids(self) -> list[str]:
        return list(self._channels)

    def watch(self, calendar_id: str, body: JSON) -> JSON:
        """events.watch: register the channel, queue its "sync" message, answer the Channel."""
        if body.get("type") not in ("web_hook", "webhook") or not body.get("id"):
            raise ApiError(400, "invalid", "Channel needs id, type web_hook and address.")
        if not str(body.get("address", "")).startswith("https://"):
            raise ApiError(400, "push.webhookUrlNotHttps", "WebHook callback must be HTTPS.")
        if not _CHANNEL_ID.fullmatch(str(body["id"])):
            raise ApiError(400, "invalid", "Channel id must be 1-64 of [A-Za-z0-9-_+/=].")
        if len(str(body.get("token") or "")) > 256:
            raise ApiError(400, "invalid", "Channel token is longer than 256 characters.")
        if body["id"] in self._channels:
            raise ApiError(400, "channelIdNotUnique", "Channel id not unique")
        ttl = int((body.get("params") or {}).get("ttl", "604800"))
        expiration = int((time.time() + ttl) * 1000)
        channel = _Channel(
            body["id"],
            secrets.token_urlsafe(16),
            calendar_id,
            body["address"],
            body.get("token"),
            expiration,
        )
        self._channels[channel.id] = channel
        # Like Google, the "sync" message can arrive before the watch call has even returned:
        # the fake sends it first, so a receiver that records the channel afterwards gets it
        # for an unknown channel.
        channel.number = 1
        with httpx.Client(timeout=5) as client:
            self._post(client, copy.copy(channel), "sync", 1)
        return {
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": _resource_uri(calendar_id),
            "token": channel.token,
            "expiration": str(expiration),
        }

    def stop_channel(self, body: JSON) -> None:
        channel = self._channels.get(body.get("id", ""))
        if channel is None or channel.resource_id != body.get("resourceId"):
            raise ApiError(404, "notFound", f"Channel '{body.get('id')}' not found")
        del self._channels[channel.id]

    def notify(self, calendar_id: str) -> None:
        """Something in the calendar changed: every channel on it gets an "exists" message."""
        for channel in self._channels.values():
            if channel.calendar_id == calendar_id:
                self._send(channel, "exists")

    def wait_for(self, count: int, timeout: float) -> list[Delivery]:
        with self._delivered:
            self._delivered.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)

    def _send(self, channel: _Channel, state: str) -> None:
        # 1 for sync, then increasing but not sequential, like Google
        channel.number = 1 if state == "sync" else channel.number + random.randint(1, 3)
        self._outbox.put((copy.copy(channel), state, channel.number))

    def _target(self, address: str) -> str:
        if not self.deliver_base:
            return address
        # like a TLS-terminating proxy: keep path and query, replace scheme and host
        parts = urlsplit(address)
        query = f"?{parts.query}" if parts.query else ""
        return self.deliver_base.rstrip("/") + parts.path + query

    def _loop(self) -> None:
        with httpx.Client(timeout=5) as client:
            while (job := self._outbox.get()) is not None:
                self._post(client, *job)

    def _post(self, client: httpx.Client, channel: _Channel, state: str, number: int) -> None:
        url = self._target(channel.address)
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Message-Number": str(number),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-URI": _resource_uri(channel.calendar_id),
            "X-Goog-Resource-State": state,
            "X-Goog-Channel-Expiration": _http_date(channel.expiration),
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        try:
            status: int | None = client.post(url, headers=headers).status_code
        except httpx.HTTPError:
            status = None
        with self._delivered:
            self.deliveries.append(Delivery(channel.id, url, headers, status))
            self._delivered.notify_all()
