"""The boundary policy tests' world: a Berlin user signed in to the API with a memory calendar."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

from app import tasks
from app.db.models import Calendar, User
from app.db.session import transaction
from app.main import create_app
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from connectors.base import Event, SelfResponse
from tests.booking_helpers import book
from tests.signups import api_token
from tests.support.world import FakeClock, MemoryWorld

BERLIN = ZoneInfo("Europe/Berlin")
ME = "me@corp.example"


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 1, day, hour, minute, tzinfo=BERLIN)


def plan_with(client: TestClient, policy: dict) -> int:
    plan_id = int(client.post("/plans", json={"goal": "Lead a project"}).json()["id"])
    response = client.put(f"/plans/{plan_id}/policy", json=policy)
    assert response.status_code == 200, response.text
    book(client, plan_id, "2027-W02")
    return plan_id


def invite(world: MemoryWorld, title: str, start: datetime, end: datetime, **kw: object) -> str:
    store = world.store(ME)
    fields: dict = {
        "organizer_email": "boss@corp.example",
        "self_response": SelfResponse.NEEDS_ACTION,
        "attendee_count": 12,
        **kw,
    }
    event = Event(
        id=store.new_id(), calendar_id="primary", title=title, start=start, end=end, **fields
    )
    store.put_event(event)
    return event.id


def sync(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        calendar_id = session.scalars(select(Calendar.id)).one()
    tasks.sync_calendar(calendar_id)


def conflicts(client: TestClient) -> list[dict]:
    return list(client.get("/conflicts").json())


@contextmanager
def signed_in_client(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> Iterator[TestClient]:
    """An API client signed in as ME (Berlin) with ME's memory calendar connected, on Sunday
    evening before the booked week."""
    clock.now = berlin(10, 18)
    with TestClient(create_app(runtime, scheduler=False)) as test_client:
        token = api_token(test_client, ME, "Europe/Berlin")
        test_client.headers["Authorization"] = f"Bearer {token}"
        with transaction(runtime.sessions) as session:
            user = session.scalars(select(User)).one()
            add_account(session, user, "memory", ME, world.store(ME).calendars())
        yield test_client
