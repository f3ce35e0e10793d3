"""Linking provider sign-ins to users: by subject always, by email only when both proved it."""

from __future__ import annotations

import pytest

from app.db.models import User
from app.db.session import transaction
from app.runtime import Runtime
from app.services.people import identity
from app.services.people.users import create_user
from tests.support.world import FakeClock


def resolve(runtime: Runtime, clock: FakeClock, **kw: object) -> tuple[int, bool]:
    values: dict = {
        "provider": "google",
        "label": "Google Calendar",
        "subject": "sub-1",
        "email": "ann@corp.example",
        "email_verified": True,
        "signed_in": None,
        "default_timezone": "UTC",
        "now": clock(),
        **kw,
    }
    with transaction(runtime.sessions) as session:
        if isinstance(values["signed_in"], int):
            values["signed_in"] = session.get_one(User, values["signed_in"])
        who = identity.resolve(session, **values)
        return who.user.id, who.created


def local_user(runtime: Runtime, clock: FakeClock, *, verified: bool) -> int:
    with transaction(runtime.sessions) as session:
        user, _ = create_user(session, "ann@corp.example", "UTC")
        user.email_verified_at = clock() if verified else None
        return user.id


def test_a_known_subject_signs_in_whatever_its_email_says_now(runtime: Runtime, clock: FakeClock):
    first, created = resolve(runtime, clock)
    assert created
    again, created = resolve(runtime, clock, email="renamed@corp.example", email_verified=False)
    assert (again, created) == (first, False)


def test_both_sides_proved_the_email_so_it_links(runtime: Runtime, clock: FakeClock):
    mine = local_user(runtime, clock, verified=True)
    assert resolve(runtime, clock) == (mine, False)


@pytest.mark.parametrize(("local", "provider"), [(False, True), (True, False), (False, False)])
def test_an_unproven_side_never_merges(runtime: Runtime, clock: FakeClock, local, provider):
    local_user(runtime, clock, verified=local)
    with pytest.raises(identity.IdentityRejectedError, match="sign in to it first"):
        resolve(runtime, clock, email_verified=provider)


def test_a_signed_in_person_links_explicitly_but_cannot_take_anothers(
    runtime: Runtime, clock: FakeClock
):
    mine = local_user(runtime, clock, verified=False)
    assert resolve(runtime, clock, signed_in=mine, email_verified=False) == (mine, False)
    with transaction(runtime.sessions) as session:
        other, _ = create_user(session, "bob@corp.example", "UTC")
        other_id = other.id
    with pytest.raises(identity.IdentityRejectedError, match="linked to another"):
        resolve(runtime, clock, signed_in=other_id)


def test_an_id_too_long_to_store_is_refused_before_anything_is_written(
    runtime: Runtime, clock: FakeClock
):
    from app.db.models import Account, Identity
    from app.services.accounts.connect import ConnectRejectedError, link_grant
    from connectors.registry import Grant

    mine = local_user(runtime, clock, verified=True)
    url = "https://cal.example.org/" + "p" * 400 + "/"  # a server may name any principal URL
    grant = Grant(b"{}", "", False, url, url, "ann on cal.example.org")
    with transaction(runtime.sessions) as session:
        user = session.get_one(User, mine)
        with pytest.raises(ConnectRejectedError, match="longer than 320"):
            link_grant(
                session, runtime.cipher, runtime.connectors, user, "caldav", grant, label="CalDAV"
            )
        assert session.query(Identity).count() == 0 and session.query(Account).count() == 0
