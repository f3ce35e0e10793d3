"""Syncing a calendar into the events cache: full, incremental, expired cursors, removals."""

from __future__ import annotations

from app.db.session import transaction
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from tests.support.sync import invite, run_sync
from tests.support.world import MemoryWorld


def test_full_then_incremental_then_expired(runtime: Runtime, world: MemoryWorld):
    with transaction(runtime.sessions) as session:
        user, _ = create_user(session, "me@corp.example", "UTC")
        add_account(
            session, user, "memory", "me@corp.example", world.store("me@corp.example").calendars()
        )
    first = invite(world, "Planning")

    result, titles = run_sync(runtime)
    assert result is not None and result.full and titles == ["Planning"]

    second = invite(world, "Retro", hours=2)
    result, titles = run_sync(runtime)
    assert result is not None and not result.full
    assert [e.id for e in result.changed] == [second.id]
    assert titles == ["Planning", "Retro"]

    world.store("me@corp.example").remove_event("primary", first.id)
    result, titles = run_sync(runtime)
    assert result is not None and result.removed_ids == [first.id] and titles == ["Retro"]

    # The provider forgets our cursor while an event changes: a full sync replaces the cache.
    invite(world, "Offsite", hours=4)
    world.store("me@corp.example").expire_cursors("primary")
    result, titles = run_sync(runtime)
    assert result is not None and result.full and titles == ["Retro", "Offsite"]
