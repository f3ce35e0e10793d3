"""The weekly booking tests' world: a Berlin user's plan on memory calendars, blocks, counts."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.db.session import transaction
from app.domain.plan import PlanSpec
from app.domain.time import IsoWeek
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.planning.plans import create_plan
from connectors.base import Event, SelfResponse
from tests.support.world import MemoryWorld

BERLIN = ZoneInfo("Europe/Berlin")
WEEK = IsoWeek(2027, 2)  # Mon 2027-01-11 .. Sun 2027-01-17


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 1, day, hour, minute, tzinfo=BERLIN)


def setup_plan(
    rt: Runtime, world: MemoryWorld, *, accounts: tuple[str, ...] = ("me@corp.example",), **spec
) -> int:
    """A Berlin user with memory accounts (the first holds the target) and one plan."""
    with transaction(rt.sessions) as session:
        user, _ = create_user(session, "me@corp.example", "Europe/Berlin")
        for external_id in accounts:
            store = world.store(external_id)
            add_account(session, user, "memory", external_id, store.calendars())
        plan = create_plan(
            session, user, PlanSpec.model_validate({"goal": "Lead a project", **spec})
        )
        return plan.id


def provider_blocks(world: MemoryWorld, external_id: str = "me@corp.example") -> list[Event]:
    return sorted(
        (e for e in world.store(external_id).events("primary") if e.tag is not None),
        key=lambda e: e.start,
    )


def meeting(world: MemoryWorld, external_id: str, start: datetime, end: datetime, **kw) -> Event:
    store = world.store(external_id)
    event = Event(
        id=store.new_id(),
        calendar_id="primary",
        title=kw.pop("title", "Sync"),
        start=start,
        end=end,
        **{
            "organizer_email": "boss@corp.example",
            "self_response": SelfResponse.ACCEPTED,
            "attendee_count": 3,
            **kw,
        },
    )
    store.put_event(event)
    return event


def count(rt: Runtime, model: type, **where: object) -> int:
    with rt.sessions() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(session.scalar(query) or 0)
