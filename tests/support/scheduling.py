"""A user with a plan in a given zone, for the scheduler tests."""

from __future__ import annotations

from app.db.session import transaction
from app.domain.plan import PlanSpec
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.planning.plans import create_plan
from tests.support.world import MemoryWorld


def make_plan(rt: Runtime, world: MemoryWorld, zone: str, **spec: object) -> int:
    with transaction(rt.sessions) as session:
        user, _ = create_user(session, "me@corp.example", zone)
        add_account(
            session, user, "memory", "me@corp.example", world.store("me@corp.example").calendars()
        )
        return create_plan(
            session, user, PlanSpec.model_validate({"goal": "Learn Rust", **spec})
        ).id
