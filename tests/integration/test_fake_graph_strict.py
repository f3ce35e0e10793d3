"""The fake Graph server refuses what Graph refuses (issue 11 item 7): unknown properties,
bad enums, malformed extended-property ids, unknown action parameters, and a fifth concurrent
request per mailbox (429 + Retry-After)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from connectors.errors import ConnectorError
from connectors.microsoft.mapping import PLAN_PROPERTY
from tests.contract.suite import T0, H
from tests.fakes.graph_server import FakeGraphServer
from tests.support.microsoft import Factory, calendar

SLOT = {"dateTime": "2031-01-06T09:00:00.0000000", "timeZone": "UTC"}
END = {"dateTime": "2031-01-06T10:00:00.0000000", "timeZone": "UTC"}


def body(**fields: Any) -> dict[str, Any]:
    return {"subject": "x", "start": SLOT, "end": END, **fields}


@pytest.mark.parametrize(
    "fields",
    [
        {"colour": "red"},
        {"showAs": "busyish"},
        {"sensitivity": "secret"},
        {"isReminderOn": "yes"},
        {"body": {"contentType": "markdown", "content": "x"}},
        {"responseStatus": {"response": "maybe"}},
        {"singleValueExtendedProperties": [{"id": "GrowthGuardSlot", "value": "1"}]},
        {"singleValueExtendedProperties": [{"id": "String {not-a-guid} Name X", "value": "1"}]},
        {"singleValueExtendedProperties": [{"id": PLAN_PROPERTY, "value": 1}]},
    ],
)
def test_event_bodies_are_checked(
    fake: FakeGraphServer, make: Factory, email: str, fields: dict[str, Any]
) -> None:
    connector, cal = make(), calendar(fake, email)
    with pytest.raises(ConnectorError, match="400"):
        connector.client.request("POST", f"/me/calendars/{cal}/events", json=body(**fields))


def test_a_valid_body_with_a_named_property_is_taken(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector, cal = make(), calendar(fake, email)
    fields = {
        "showAs": "workingElsewhere",
        "singleValueExtendedProperties": [{"id": PLAN_PROPERTY, "value": "7"}],
    }
    created = connector.client.request("POST", f"/me/calendars/{cal}/events", json=body(**fields))
    assert created["showAs"] == "workingElsewhere"


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("decline", {"comment": "x", "sendReply": True}),
        ("accept", {"proposedNewTime": {"start": SLOT, "end": END}}),
        ("tentativelyAccept", {"sendResponse": "yes"}),
    ],
)
def test_unknown_action_parameters_are_refused(
    fake: FakeGraphServer, make: Factory, email: str, action: str, payload: dict[str, Any]
) -> None:
    connector, cal = make(), calendar(fake, email)
    invite = fake.insert_invite(email, cal, "Sync", T0, T0 + H, "boss@example.com")
    with pytest.raises(ConnectorError, match="400"):
        connector.client.request("POST", f"/me/events/{invite}/{action}", json=payload)


def test_a_fifth_concurrent_request_per_mailbox_is_throttled(
    fake: FakeGraphServer, make: Factory, email: str
) -> None:
    connector = make()
    token = connector.tokens.access_token()
    statuses: list[tuple[int, str | None]] = []
    start = threading.Barrier(8)

    def call() -> None:
        with httpx.Client(transport=fake.routing_transport()) as client:
            start.wait()
            reply = client.get(
                "https://graph.microsoft.com/v1.0/me/calendars",
                headers={"Authorization": f"Bearer {token}"},
            )
            statuses.append((reply.status_code, reply.headers.get("retry-after")))

    fake.latency = 0.3
    try:
        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    finally:
        fake.latency = 0.0
    assert sorted(code for code, _ in statuses) == [200] * 4 + [429] * 4
    assert all(after == "1" for code, after in statuses if code == 429)
