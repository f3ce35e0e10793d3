"""The demo calendar: a local Radicale, a login per person, a seeded week, a sample invite.

Once connected, a demo account is an ordinary CalDAV account: the same connector, sync,
booking and policy as any real server. Only two things are special: it is polled often
(`GG_DEMO_POLL_SECONDS`), and it offers "Send me a sample invite".
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from caldav.davclient import DAVClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Account, Block, BlockState, Calendar, Plan, User
from app.demo import seed
from app.demo.radicale import RadicaleProcess, RadicaleStartError
from app.domain.time import IsoWeek, resolve_zone
from app.security import CredentialCipher
from app.services.accounts.connect import ConnectRejectedError, link_grant
from app.services.accounts.live import ConnectorFor
from app.services.errors import InvalidInputError
from connectors.caldav.connect import finish as caldav_finish
from connectors.errors import ConnectorError

log = logging.getLogger(__name__)

PROVIDER = "caldav"  # the demo calendar is a CalDAV server
CALENDAR = "work"


@dataclass
class DemoCalendar:
    """The demo Radicale of this process (started and stopped with the app)."""

    server: RadicaleProcess
    problem: str | None = None  # why it is unavailable, when it is
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def at(cls, folder: Path, port: int) -> DemoCalendar:
        return cls(RadicaleProcess(folder, port))

    @property
    def available(self) -> bool:
        return self.problem is None and self.server.running

    @property
    def url(self) -> str:
        return self.server.url

    kind = "CalDAV"  # what calendar apps call an account of this kind
    description = "a real CalDAV server running next to it (Radicale, on this machine only)"

    def start(self) -> None:
        """Start Radicale; on failure the demo is unavailable (the app still runs)."""
        try:
            self.server.start()
        except (RadicaleStartError, OSError) as error:
            self.problem = str(error)
            log.error("the demo calendar is unavailable: %s", error)
        else:
            self.problem = None
            log.info("demo calendar (Radicale) at %s", self.server.url)

    def stop(self) -> None:
        self.server.stop()

    def login(self, user_id: int) -> tuple[str, str]:
        """The person's demo login (created on first use)."""
        username = f"demo{user_id}"
        with self._lock:
            password = self.server.password_of(username) or self.server.add_user(username)
        return username, password

    def calendar_url(self, username: str) -> str:
        return f"{self.server.url}{username}/{CALENDAR}/"


def demo_account(session: Session, user: User) -> Account | None:
    """The person's connected demo account, if any."""
    return session.scalars(
        select(Account).where(Account.user_id == user.id, Account.is_demo.is_(True))
    ).first()


def connect(
    session: Session,
    demo: DemoCalendar | None,
    user: User,
    *,
    cipher: CredentialCipher,
    connectors: ConnectorFor,
    now: datetime,
) -> Account:
    """Create the person's demo calendar with a seeded week and connect it like any CalDAV."""
    if demo is None or not demo.available:
        reason = demo.problem if demo is not None and demo.problem else "it is turned off"
        raise InvalidInputError([("demo", f"the demo calendar is not available: {reason}")])
    username, password = demo.login(user.id)
    try:
        _prepare(demo, username, password, user, now)
        grant = caldav_finish(
            {"email": user.email},
            {"server": demo.url, "username": username, "password": password},
            allow_private=True,  # the demo server is on loopback by design
        )
    except (ConnectorError, OSError) as error:
        raise InvalidInputError([("demo", f"the demo calendar did not answer: {error}")]) from None
    try:
        account = link_grant(
            session, cipher, connectors, user, PROVIDER, grant, label="demo calendar", now=now
        )
    except ConnectRejectedError as error:
        raise InvalidInputError([("demo", str(error))]) from None
    account.is_demo = True
    account.display_name = "Demo calendar"
    session.flush()
    return account


def _prepare(demo: DemoCalendar, username: str, password: str, user: User, now: datetime) -> None:
    """Make the calendar and seed it (once: an existing calendar is left as it is)."""
    with DAVClient(url=demo.url, username=username, password=password, timeout=10) as client:
        url = demo.calendar_url(username)
        if client.request(url, "PROPFIND", "", {"Depth": "0"}).status < 400:
            return
        principal = client.principal()  # type: ignore[no-untyped-call]
        principal.make_calendar(name="Work (demo)", cal_id=CALENDAR)
        zone = resolve_zone(user.timezone)
        week = IsoWeek.containing(now, zone)
        if now.astimezone(zone).weekday() >= 4:  # from Friday on, seed the coming week
            week = week.next()
        monday = week.start(zone).date()
        for name, body in seed.working_week(user.email, zone, monday, now):
            response = client.put(
                f"{url}{name}", body, {"Content-Type": "text/calendar; charset=utf-8"}
            )
            if response.status >= 400:
                raise ConnectorError(f"seeding failed (HTTP {response.status})")


@dataclass(frozen=True)
class SentInvite:
    title: str
    start: datetime
    end: datetime


def send_sample_invite(
    session: Session, demo: DemoCalendar | None, user: User, now: datetime
) -> SentInvite:
    """Write an outside organizer's invite over the person's next growth block.

    It lands in the demo calendar the way another server would deliver it; GrowthGuard
    notices it at the next poll, like any other invite.
    """
    account = demo_account(session, user)
    if demo is None or not demo.available or account is None:
        raise InvalidInputError([("demo", "connect the demo calendar first")])
    blocks = list(
        session.scalars(
            select(Block)
            .join(Plan, Plan.id == Block.plan_id)
            .join(Calendar, Calendar.id == Block.calendar_id)
            .where(
                Plan.user_id == user.id,
                Calendar.account_id == account.id,
                Block.state == BlockState.BOOKED,
                Block.start > now,
            )
            .order_by(Block.start)
        )
    )
    if not blocks:
        raise InvalidInputError(
            [("demo", "no growth block is booked yet: save a plan first, then try again")]
        )
    # Past the default short-notice window when possible, so the policy's own rules decide.
    later = [b for b in blocks if b.start > now + timedelta(hours=25)]
    block = (later or blocks)[0]
    username, password = demo.login(user.id)
    name, body, title = seed.sample_invite(user.email, block.start, block.end, now)
    with DAVClient(url=demo.url, username=username, password=password, timeout=10) as client:
        response = client.put(
            f"{demo.calendar_url(username)}{name}",
            body,
            {"Content-Type": "text/calendar; charset=utf-8"},
        )
    if response.status >= 400:
        raise InvalidInputError([("demo", f"the invite was refused (HTTP {response.status})")])
    return SentInvite(title, block.start, block.end)
