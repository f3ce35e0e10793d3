"""Growth log asks once per block; the quarterly review and its Markdown and PDF exports."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from app import tasks
from app.db.models import Block, Notification, NotificationStatus, Plan, User
from app.db.session import transaction
from app.runtime import Runtime
from app.services.growth import export, milestones, review
from app.services.growth import log as growth_log
from app.services.reports import sending
from tests.support.booking import WEEK, berlin, setup_plan
from tests.support.world import FakeClock, MemoryWorld

SECRET = "s" * 40


def prompts(rt: Runtime) -> list[Notification]:
    with rt.sessions() as session:
        return list(session.scalars(select(Notification).where(Notification.kind == "growth.log")))


@pytest.fixture
def booked(runtime: Runtime, world: MemoryWorld, clock: FakeClock) -> int:
    clock.now = berlin(10, 18)
    plan_id = setup_plan(runtime, world, goal_by="2027-06-30")
    with transaction(runtime.sessions) as session:
        plan = session.get_one(Plan, plan_id)
        user = session.get_one(User, plan.user_id)
        proposal = milestones.proposal(plan, user, clock.now)
        milestones.add(
            session, user, plan, [milestones.MilestoneInput(p.title, p.due) for p in proposal]
        )
    tasks.book_plan(plan_id, str(WEEK))  # Mon 11th and Tue 12th, 09:00-11:00
    return plan_id


def test_each_ended_block_is_asked_about_once(
    runtime: Runtime, clock: FakeClock, booked: int
) -> None:
    clock.now = berlin(11, 12)  # Monday's block is over
    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User)).one()
        first = growth_log.ask(session, user, clock.now, SECRET)
        again = growth_log.ask(session, user, clock.now, SECRET)
    assert len(first) == 1 and again == []
    (note,) = prompts(runtime)
    assert note.status == NotificationStatus.DELIVERED  # in-app only, never a channel
    assert note.payload["url"].startswith(f"/growth/blocks/{first[0][0].id}/log?t=")

    clock.now = berlin(18, 8)  # the weekly report asks about Tuesday's block, not Monday's
    with transaction(runtime.sessions) as session:
        sent = sending.send_weekly_reports(
            session, clock.now, log_links=growth_log.Linker(SECRET, "https://gg.example")
        )
    assert sent == 1
    with runtime.sessions() as session:
        weekly = session.scalars(
            select(Notification).where(Notification.kind == "report.weekly")
        ).one()
        tuesday = session.scalars(select(Block).order_by(Block.start)).all()[1]
    assert len(weekly.payload["log_links"]) == 1
    assert weekly.payload["log_links"][0].startswith(
        f"https://gg.example/growth/blocks/{tuesday.id}/log?t="
    )
    assert weekly.payload["log_links"][0] in weekly.payload["message"]  # every channel shows it
    assert len(prompts(runtime)) == 2


def test_review_and_exports(runtime: Runtime, clock: FakeClock, booked: int) -> None:
    clock.now = berlin(20, 8)
    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User)).one()
        plan = session.get_one(Plan, booked)
        monday = session.scalars(select(Block).order_by(Block.start)).first()
        assert monday is not None
        first = milestones.list_for_plan(session, plan)[0]
        growth_log.create(
            session,
            user,
            monday.id,
            growth_log.EntryInput(
                "Drafted the proposal outline",
                outcome="Shared with 8 people",
                milestone_id=first.id,
                milestone_done=True,
            ),
            clock.now,
        )
        review.save_answers(
            session, user, review.Quarter(2027, 1), {"worked": "Mornings", "drained": "Slack"}
        )
    with runtime.sessions() as session:
        user = session.scalars(select(User)).one()
        plan = session.get_one(Plan, booked)
        result = review.build(session, user, plan, review.Quarter(2027, 1), clock.now)
    # W53 (reaching into January) and W01 had nothing booked: the quarter starts with W02.
    assert (result.weeks, result.kept_minutes, result.target_minutes) == (2, 240, 480)
    assert [m.status for m in result.milestones][:2] == ["hit", "open"]
    assert result.milestones[0].done_on == date(2027, 1, 11)
    assert [e["outcome"] for e in result.entries] == ["Shared with 8 people"]
    assert result.answers == {"worked": "Mornings", "drained": "Slack", "changes": ""}

    text = export.markdown(result, ["goal", "outcomes"])
    assert "## Goal" in text and "## Log and outcomes" in text and "## Hours" not in text
    assert "Drafted the proposal outline — outcome: Shared with 8 people" in text

    document = PdfReader(io.BytesIO(export.pdf(result)))
    read = " ".join(page.extract_text() for page in document.pages)
    # Every line starts at the left margin (10 mm ~ 28 pt), none runs off the page.
    starts: list[float] = []

    def seen(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if text.strip():
            starts.append(float(tm[4]) * float(cm[0]) + float(cm[4]))

    document.pages[0].extract_text(visitor_text=seen)
    assert starts and all(20 < x < 40 for x in starts), starts
    assert "Growth review 2027-Q1" in read
    assert "Shared with 8 people" in read and "What drained you? Slack" in read


def test_a_second_entry_for_a_block_is_refused(
    runtime: Runtime, clock: FakeClock, booked: int
) -> None:
    clock.now = berlin(20, 8)
    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User)).one()
        block_id = session.scalar(select(func.min(Block.id)))
        assert block_id is not None
        growth_log.create(session, user, block_id, growth_log.EntryInput("one"), clock.now)
        with pytest.raises(growth_log.InvalidInputError):
            growth_log.create(session, user, block_id, growth_log.EntryInput("two"), clock.now)
