"""Defense-level tests' world: one plan of one block on any connector, and a write counter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from app import runtime as runtime_module
from app.db.models import Account, Block
from app.db.session import transaction
from app.domain.plan import PlanSpec
from app.runtime import Runtime, build_runtime
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.planning.plans import create_plan
from connectors.base import BlockSpec, CalendarConnector, CalendarInfo, Event
from connectors.errors import ConnectorError
from tests.support.settings import make_settings
from tests.support.world import FakeClock


@dataclass
class CountingConnector:
    """Wraps a real connector (fake server or real CalDAV server) and counts block writes."""

    inner: CalendarConnector
    updates: list[BlockSpec] = field(default_factory=list)
    creates: list[BlockSpec] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create_block(self, calendar_id: str, spec: BlockSpec) -> Event:
        self.creates.append(spec)
        return self.inner.create_block(calendar_id, spec)

    def create_blocks(
        self, calendar_id: str, specs: list[BlockSpec]
    ) -> list[Event | ConnectorError]:
        self.creates.extend(specs)
        return self.inner.create_blocks(calendar_id, specs)

    def update_block(self, calendar_id: str, event_id: str, spec: BlockSpec) -> Event:
        self.updates.append(spec)
        return self.inner.update_block(calendar_id, event_id, spec)


@contextmanager
def runtime_on(
    db_url: str, engine: Engine, clock: FakeClock, connector: CalendarConnector
) -> Iterator[Runtime]:
    """A runtime whose every account talks to `connector`."""

    def provide(account: Account) -> CalendarConnector:
        return connector

    rt = build_runtime(make_settings(db_url), connectors=provide, clock=clock, engine=engine)
    runtime_module.install(rt)
    try:
        yield rt
    finally:
        runtime_module.install(None)


def one_block_plan(rt: Runtime, calendar_id: str, zone: str, **spec: Any) -> int:
    """A person in `zone` whose plan books one 2-hour block, Mondays 09:00 (window to 17:00), on
    `calendar_id` (the target and only busy source)."""
    with transaction(rt.sessions) as session:
        user, _ = create_user(session, "me@corp.example", zone)
        calendars = [CalendarInfo(id=calendar_id, name="Work", primary=True)]
        add_account(session, user, "memory", "me@corp.example", calendars)
        document = {
            "goal": "Lead a project",
            "weekly_target_minutes": 120,
            "block_minutes": 120,
            "days": ["mon"],
            "windows": ["09:00-17:00"],
            "preferred_windows": ["09:00-11:00"],
            "buffer_minutes": 0,
            **spec,
        }
        plan = create_plan(session, user, PlanSpec.model_validate(document))
        return plan.id


def block_rows(rt: Runtime, plan_id: int) -> list[Block]:
    with rt.sessions() as session:
        rows = session.scalars(select(Block).where(Block.plan_id == plan_id).order_by(Block.start))
        return list(rows)


def provider_blocks(
    connector: CalendarConnector, calendar_id: str, start: datetime, end: datetime
) -> list[Event]:
    return [e for e in connector.list_events(calendar_id, start, end) if e.tag is not None]
