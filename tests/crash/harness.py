"""Real crashes: a worker process is SIGKILLed at its Nth provider call, then run again.

The fake Google server runs in this process and kills the worker from inside its request
handler, either before the call takes effect or after (the provider did it, the answer is
lost) - the two ways a crash meets a provider. Then the worker runs again, unharmed, and the
world is checked: duplicate blocks, missing blocks, actions sent twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select

from app.db.migrate import upgrade
from app.db.models import Block, Calendar, Conflict, Decision
from app.db.session import make_engine, make_session_factory, transaction
from app.domain.plan import PlanSpec
from app.domain.policy import PolicySpec
from app.security import CredentialCipher
from app.services.accounts.rows import add_account
from app.services.people.users import create_user
from app.services.planning.plans import create_plan
from app.services.planning.policies import set_policy
from connectors.base import CalendarInfo
from connectors.google.mapping import SLOT_KEY
from tests.fakes.google_server import FakeGoogle, Recorded

ROOT = Path(__file__).resolve().parents[2]
KEY = "p0tAk3Cq3LAd1FQm0x2YF3fNGhW6iSl7n5vQbWmZ0bA="
USER = "crash@corp.example"
TIMEOUT = 120


@dataclass
class Outcome:
    """What one kill-and-rerun left behind."""

    killed_at: int
    phase: str
    killed: bool
    duplicates: int = 0
    missing: int = 0
    double_actions: int = 0
    undecided: int = 0
    rerun_ok: bool = True


@dataclass
class CrashWorld:
    """A fresh database, fake Google account and plan; workers run as separate processes."""

    folder: Path
    fake: FakeGoogle
    db_url: str = ""
    plan_id: int = 0
    calendar_id: int = 0
    _kill: dict[str, Any] = field(default_factory=dict)
    _calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def setup(self) -> CrashWorld:
        if not self.db_url:  # scaled-mode tests bring a PostgreSQL database
            self.db_url = f"sqlite:///{self.folder / 'growthguard.db'}"
            upgrade(self.db_url)
        self.fake.add_account(USER, workspace=True, time_zone="Europe/Berlin")
        credentials = json.dumps(self.fake.mint_credentials(USER)).encode()
        engine = make_engine(self.db_url)
        try:
            with transaction(make_session_factory(engine)) as session:
                user, _ = create_user(session, USER, "Europe/Berlin")
                account = add_account(
                    session,
                    user,
                    "google",
                    USER,
                    [CalendarInfo(id=USER, name=USER, primary=True, can_write=True, owned=True)],
                    credentials=CredentialCipher([SecretStr(KEY)]).encrypt(credentials),
                )
                plan = create_plan(session, user, PlanSpec(goal="Survive crashes"))
                set_policy(
                    session, user, plan.id, PolicySpec.model_validate({"default": "decline"})
                )
                self.plan_id = plan.id
                self.calendar_id = session.scalars(
                    select(Calendar.id).where(Calendar.account_id == account.id)
                ).one()
        finally:
            engine.dispose()
        config = {
            "db_url": self.db_url,
            "key": KEY,
            "google": self.fake.endpoints(),
            "plan_id": self.plan_id,
            "calendar_id": self.calendar_id,
        }
        (self.folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
        self.fake.crash_hook = self._hook
        return self

    # --- running workers ----------------------------------------------------------------------

    def run(self, job: str, kill_at: int | None = None, phase: str = "after") -> tuple[int, bool]:
        """Run the worker; with `kill_at`, SIGKILL it at that Calendar API call (1-based).

        Returns (exit status, whether the kill happened)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GG_")}
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.crash.worker", str(self.folder / "config.json"), job],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        with self._lock:
            self._calls = 0
            self._kill = {"pid": process.pid, "at": kill_at, "phase": phase, "done": False}
        try:
            _, err = process.communicate(timeout=TIMEOUT)
        finally:
            with self._lock:
                killed = bool(self._kill.get("done"))
                self._kill = {}
        if process.returncode not in (0, -signal.SIGKILL):
            raise AssertionError(f"worker {job} failed ({process.returncode}): {err.decode()}")
        return process.returncode, killed

    def arm_kill(self, pid: int, at: int, phase: str = "after") -> None:
        """SIGKILL process `pid` at its `at`th Calendar API call from now (1-based)."""
        with self._lock:
            self._calls = 0
            self._kill = {"pid": pid, "at": at, "phase": phase, "done": False}

    def kill_done(self) -> bool:
        with self._lock:
            return bool(self._kill.get("done"))

    def _hook(self, request: Recorded, phase: str) -> None:
        with self._lock:
            kill = self._kill
            if not kill or kill.get("done") or kill["at"] is None:
                return
            if phase == "before":
                self._calls += 1
            if self._calls == kill["at"] and phase == kill["phase"]:
                kill["done"] = True
                os.kill(kill["pid"], signal.SIGKILL)

    def count_calls(self, job: str) -> int:
        """How many Calendar API calls an undisturbed run of `job` makes from here."""
        before = len(self.fake.requests)
        self.run(job)
        return len([r for r in self.fake.requests[before:] if r.path.startswith("/calendar/v3/")])

    # --- what the world looks like ------------------------------------------------------------

    def provider_blocks(self) -> Counter[str]:
        """Live tagged events at the provider, by slot key."""
        slots: Counter[str] = Counter()
        for event in self.fake.events(USER):
            private = (event.get("extendedProperties") or {}).get("private") or {}
            if SLOT_KEY in private and event.get("status") != "cancelled":
                slots[private[SLOT_KEY]] += 1
        return slots

    def block_rows(self) -> Counter[str]:
        engine = make_engine(self.db_url)
        try:
            with make_session_factory(engine)() as session:
                keys = session.scalars(select(Block.slot_key).where(Block.plan_id == self.plan_id))
                return Counter(keys)
        finally:
            engine.dispose()

    def decisions(self) -> tuple[int, int]:
        """(decisions recorded, conflicts without one)."""
        engine = make_engine(self.db_url)
        try:
            with make_session_factory(engine)() as session:
                decided = session.scalar(select(func.count()).select_from(Decision)) or 0
                open_ = session.scalar(
                    select(func.count())
                    .select_from(Conflict)
                    .where(~Conflict.id.in_(select(Decision.conflict_id)))
                )
                return int(decided), int(open_ or 0)
        finally:
            engine.dispose()

    def declines_sent(self) -> Counter[str]:
        """RSVP patches that reached the provider, by event id."""
        sent: Counter[str] = Counter()
        for request in self.fake.requests:
            body = request.json if isinstance(request.json, dict) else {}
            if request.method == "PATCH" and body.get("attendeesOmitted"):
                sent[request.path.rsplit("/", 1)[-1]] += 1
        return sent

    def invite_on_every_block(self) -> list[str]:
        """A 12-person meeting over each booked block (the policy declines each)."""
        ids = []
        for event in self.fake.events(USER):
            if (event.get("extendedProperties") or {}).get("private", {}).get(SLOT_KEY):
                start = datetime.fromisoformat(event["start"]["dateTime"].replace("Z", "+00:00"))
                end = datetime.fromisoformat(event["end"]["dateTime"].replace("Z", "+00:00"))
                ids.append(
                    self.fake.insert_invite(
                        USER, "All hands", start, end, organizer="ceo@corp.example",
                        attendee_count=12,
                    )
                )  # fmt: skip
        return ids


def crash_booking(folder: Path, kill_at: int, phase: str) -> Outcome:
    """Kill a booking at its `kill_at`th provider call, rerun it, count the damage."""
    with FakeGoogle() as fake:
        world = CrashWorld(folder, fake).setup()
        _, killed = world.run("book", kill_at, phase)
        world.run("book")
        expected = _expected_blocks(folder, fake)
        provider, rows = world.provider_blocks(), world.block_rows()
        outcome = Outcome(kill_at, phase, killed)
        outcome.duplicates = sum(n - 1 for n in provider.values() if n > 1) + sum(
            n - 1 for n in rows.values() if n > 1
        )
        outcome.missing = max(expected - len(provider), 0) + len(set(provider) - set(rows))
        return outcome


def _expected_blocks(folder: Path, fake: FakeGoogle) -> int:
    """What an uncrashed booking books at the same moment (a reference world)."""
    with FakeGoogle() as reference:
        ref_folder = folder / "reference"
        ref_folder.mkdir(exist_ok=True)
        world = CrashWorld(ref_folder, reference).setup()
        world.run("book")
        return len(world.provider_blocks())


def crash_deciding(folder: Path, kill_at: int, phase: str) -> Outcome:
    """Book, put an invite on every block, kill the deciding sync at its `kill_at`th provider
    call, rerun it, and count declines sent twice and conflicts left undecided."""
    with FakeGoogle() as fake:
        world = CrashWorld(folder, fake).setup()
        world.run("book")
        invites = world.invite_on_every_block()
        _, killed = world.run("decide", kill_at, phase)
        world.run("decide")
        outcome = Outcome(kill_at, phase, killed)
        sent = world.declines_sent()
        outcome.double_actions = sum(n - 1 for n in sent.values() if n > 1)
        _, outcome.undecided = world.decisions()
        outcome.missing = len([i for i in invites if sent[i] == 0])
        return outcome


def calls_of(job: str, folder: Path) -> int:
    """Provider calls an undisturbed `job` makes (the range kill points are drawn from)."""
    with FakeGoogle() as fake:
        world = CrashWorld(folder, fake).setup()
        if job == "decide":
            world.run("book")
            world.invite_on_every_block()
        return world.count_calls(job)
