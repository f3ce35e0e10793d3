"""The signed one-field log page (no sign-in, used once) and the growth forms' error answers."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import tasks
from app.db.growth_models import LogEntry
from app.db.models import Block, Notification, User
from app.db.session import transaction
from app.deps import SESSION_COOKIE
from app.main import create_app
from app.runtime import Runtime
from app.security import sign
from app.services import websessions
from app.services.growth import log as growth_log
from app.web.forms import FLASH_COOKIE
from tests.conftest import FakeClock, MemoryWorld
from tests.integration.test_booking import WEEK, berlin, setup_plan


@pytest.fixture
def ended(runtime: Runtime, world: MemoryWorld, clock: FakeClock) -> Iterator[TestClient]:
    """Monday's block has ended and was asked about; an anonymous client."""
    clock.now = berlin(10, 18)
    plan_id = setup_plan(runtime, world, goal_by="2027-06-30")
    tasks.book_plan(plan_id, str(WEEK))
    clock.now = berlin(11, 12)
    secret = runtime.settings.secret_key.get_secret_value()
    with transaction(runtime.sessions) as session:
        growth_log.ask(session, session.scalars(select(User)).one(), clock.now, secret)
    with TestClient(create_app(runtime, scheduler=False)) as client:
        yield client


def prompt_url(runtime: Runtime) -> str:
    with runtime.sessions() as session:
        note = session.scalars(select(Notification).where(Notification.kind == "growth.log")).one()
        return str(note.payload["url"])


def entries(runtime: Runtime) -> list[LogEntry]:
    with runtime.sessions() as session:
        return list(session.scalars(select(LogEntry)))


def test_the_link_logs_once_without_signing_in(ended: TestClient, runtime: Runtime) -> None:
    url = prompt_url(runtime)
    page = ended.get(url)
    assert page.status_code == 200 and "What did you do?" in page.text
    token = parse_qs(urlsplit(url).query)["t"][0]
    path = urlsplit(url).path

    empty = ended.post(path, data={"t": token, "text": "  "})
    assert empty.status_code == 422 and "write at least a few words" in empty.text
    assert entries(runtime) == []  # and the link is still good

    done = ended.post(path, data={"t": token, "text": "Read the RFC", "outcome": "2 notes"})
    assert done.status_code == 200 and "Logged." in done.text
    again = ended.post(path, data={"t": token, "text": "Again"})
    assert again.status_code == 410 and "already used" in again.text
    assert ended.get(url).status_code == 410
    assert [(e.text, e.outcome) for e in entries(runtime)] == [("Read the RFC", "2 notes")]


def test_a_link_for_another_block_or_forged_is_refused(ended: TestClient, runtime: Runtime) -> None:
    url = prompt_url(runtime)
    token = parse_qs(urlsplit(url).query)["t"][0]
    with runtime.sessions() as session:
        other = session.scalars(select(Block.id).order_by(Block.start.desc())).first()
    assert ended.get(f"/growth/blocks/{other}/log", params={"t": token}).status_code == 410
    forged = ended.post(urlsplit(url).path, data={"t": token + "x", "text": "forged"})
    assert forged.status_code == 410 and "not valid" in forged.text
    assert entries(runtime) == []


def test_forms_answer_bad_input_with_the_field_not_a_500(
    ended: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User)).one()
        cookie = websessions.sign_in(session, user.id, clock.now)
    ended.cookies.set(SESSION_COOKIE, cookie)
    csrf = sign(f"csrf:{cookie}", runtime.settings.secret_key.get_secret_value())
    bad_date = ended.post(
        "/dashboard/milestones", data={"csrf_token": csrf, "title": "x", "due": "31.02.2027"}
    )
    # The error summary says it as a sentence ("Give a date like 2027-03-01.").
    assert bad_date.status_code == 422 and "give a date like 2027-03-01" in bad_date.text.lower()
    bad_quarter = ended.post(
        "/dashboard/review/answers", data={"csrf_token": csrf, "quarter": "2027-Q9"}
    )
    assert bad_quarter.status_code == 422
    assert "is not a quarter like 2027-q1" in bad_quarter.text.lower()
    no_csrf = ended.post("/dashboard/growth-rules", data={"keyword": "#x"})
    assert no_csrf.status_code == 403
    accepted = ended.post(
        "/dashboard/milestones/accept", data={"csrf_token": csrf}, follow_redirects=False
    )
    twice = ended.post(
        "/dashboard/milestones/accept", data={"csrf_token": csrf}, follow_redirects=False
    )
    # The "done" message rides to the next page in a one-time cookie (not in the address).
    assert "6 milestones added" in unquote(accepted.cookies[FLASH_COOKIE])
    assert "0 milestones added" in unquote(twice.cookies[FLASH_COOKIE])


def test_the_sweep_asks_about_a_block_soon_after_it_ends_and_only_once(
    runtime: Runtime, world: MemoryWorld, clock: FakeClock
) -> None:
    """No page needs to be opened: the scheduler's sweep puts the question in the list."""
    clock.now = berlin(10, 18)
    plan_id = setup_plan(runtime, world, goal_by="2027-06-30")
    tasks.book_plan(plan_id, str(WEEK))
    assert tasks.ask_growth_log() == 0  # nothing has ended yet

    clock.now = berlin(11, 12)  # Monday's block ended at 11:00
    assert tasks.ask_growth_log() == 1
    assert tasks.ask_growth_log() == 0  # never twice for one block
    assert prompt_url(runtime).startswith("/growth/blocks/")
