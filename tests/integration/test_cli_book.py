"""`growthguard book --week`: every active plan booked for one week, in batches."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.cli import main
from app.db.models import Block
from app.db.session import transaction
from app.domain.plan import PlanSpec
from app.runtime import Runtime
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.planning.plans import create_plan, set_active
from connectors import memory
from connectors.base import CalendarInfo
from tests.support.settings import TEST_KEY


@pytest.fixture
def shared_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # the registry's memory provider keeps one store per process: start from an empty one
    monkeypatch.setattr(memory, "_default_store", None)


@pytest.mark.usefixtures("shared_store")
def test_books_every_active_plan(
    runtime: Runtime,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    info = CalendarInfo(id="primary", name="Demo", primary=True)
    with transaction(runtime.sessions) as session:
        for n, active in ((0, True), (1, True), (2, False)):
            user, _ = create_user(session, f"p{n}@corp.example", "Europe/Berlin")
            add_account(session, user, "memory", f"p{n}@corp.example", [info])
            plan = create_plan(session, user, PlanSpec(goal=f"Goal {n}"))
            if not active:
                set_active(session, user, plan.id, False)
    for name, value in {
        "GG_ENV": "test",
        "GG_DATABASE_URL": db_url,
        "GG_ENCRYPTION_KEYS": TEST_KEY,
        "GG_SCHEDULER_ENABLED": "false",
    }.items():
        monkeypatch.setenv(name, value)

    assert main(["book", "--week", "2027-W03", "--chunk", "1"]) == 0

    answer = json.loads(capsys.readouterr().out)
    assert answer == {
        "week": "2027-W03",
        "plans": 2,
        "booked": 2,
        "blocks_created": 4,
        "failed": {},
        "blocked": {},
    }
    with runtime.sessions() as session:
        assert len(session.scalars(select(Block)).all()) == 4


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--week", "2027-53"], "--week"), (["--week", "2027-W03", "--chunk", "0"], "--chunk")],
)
def test_bad_arguments_exit_2(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["book", *args]) == 2
    assert fragment in capsys.readouterr().err
