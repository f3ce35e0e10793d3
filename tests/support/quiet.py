"""Quiet-mode tests' world: a runtime whose Slack is the fake server, a linked person, a
dispatcher that records submissions (retries are looked at, not waited for)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from app import runtime as runtime_module
from app.db.quiet_models import QuietPeriod, SlackLink
from app.db.session import transaction
from app.runtime import Runtime, build_runtime
from tests.fakes.slack_server import CLIENT_ID, CLIENT_SECRET, FakeSlackServer
from tests.support.settings import make_settings
from tests.support.world import FakeClock, MemoryWorld


@dataclass
class RecordingDispatcher:
    """Keeps what was submitted (key, job, delay) instead of running it."""

    submitted: list[tuple[str, object, float]] = field(default_factory=list)

    def submit(self, key: str, task: Callable[[], object], *, delay: float = 0.0) -> bool:
        self.submitted.append((key, task, delay))
        return True

    def alive(self) -> bool:
        return True

    def problem(self) -> str | None:
        return None

    def restart(self) -> None:
        return None

    def shutdown(self) -> None:
        return None


@contextmanager
def quiet_runtime(
    db_url: str, engine: Engine, clock: FakeClock, world: MemoryWorld, slack: FakeSlackServer
) -> Iterator[tuple[Runtime, RecordingDispatcher]]:
    """A runtime wired to the test database, memory calendars and the fake Slack."""
    dispatcher = RecordingDispatcher()
    settings = make_settings(
        db_url,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        slack_base_url=slack.base_url,
    )
    rt = build_runtime(
        settings, connectors=world.provider(), clock=clock, engine=engine, dispatcher=dispatcher
    )
    runtime_module.install(rt)
    try:
        yield rt, dispatcher
    finally:
        runtime_module.install(None)


def link_slack(rt: Runtime, user_id: int, token: str, *, quiet: bool = True) -> None:
    """Store a Slack link as a completed connect would (token encrypted)."""
    with transaction(rt.sessions) as session:
        session.add(
            SlackLink(
                user_id=user_id,
                team_id="T0GROWTH",
                slack_user_id="U1",
                credentials=rt.cipher.encrypt(json.dumps({"access_token": token}).encode()),
                scopes="dnd:write,users.profile:read,users.profile:write",
                quiet_enabled=quiet,
            )
        )


def the_link(rt: Runtime, user_id: int) -> SlackLink:
    with rt.sessions() as session:
        link = session.scalars(select(SlackLink).where(SlackLink.user_id == user_id)).one()
        session.expunge(link)
        return link


def periods(rt: Runtime) -> list[QuietPeriod]:
    with rt.sessions() as session:
        rows = list(session.scalars(select(QuietPeriod).order_by(QuietPeriod.id)))
        for row in rows:
            session.expunge(row)
        return rows
