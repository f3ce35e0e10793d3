"""The mailbox data behind the fake Graph server: users, calendars, events and their change log.

Times are stored as aware UTC datetimes; all-day events as the UTC midnights of their dates.
Series are stored like Exchange does: a `seriesMaster` plus one materialised `occurrence` per
instance (so one occurrence can carry its own response). Every change bumps a global sequence
number, which is what delta tokens remember.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any


def new_id(prefix: str = "AAMkAG") -> str:
    """An opaque, URL-safe id shaped a little like an Exchange immutable id."""
    return prefix + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


@dataclass
class FakeEvent:
    id: str
    calendar_id: str
    subject: str
    start: datetime
    end: datetime
    organizer: str
    is_all_day: bool = False
    show_as: str = "busy"
    body: str = ""
    attendees: dict[str, str] = field(default_factory=dict)  # email -> response
    own_response: str = "organizer"  # responseStatus.response of the mailbox owner
    is_cancelled: bool = False
    is_online_meeting: bool = False
    type: str = "singleInstance"
    series_master_id: str | None = None
    ical_uid: str = field(
        default_factory=lambda: f"040000008200E00074C5B7101A82E008{uuid.uuid4().hex}"
    )
    categories: list[str] = field(default_factory=list)
    is_reminder_on: bool = True
    response_requested: bool = True
    allow_new_time_proposals: bool = True
    ext: dict[str, str] = field(default_factory=dict)  # singleValueExtendedProperties
    last_modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    seq: int = 0
    deleted: bool = False

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and self.end > start


@dataclass(frozen=True)
class RecordedResponse:
    event_id: str
    response: str  # accept / decline / tentativelyAccept
    comment: str | None
    send_response: bool
    proposed: tuple[datetime, datetime] | None


@dataclass
class FakeUser:
    email: str
    name: str
    oid: str = field(default_factory=lambda: str(uuid.uuid4()))
    tid: str = "9188040d-6c67-4c5b-b112-36a304b66dad"
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, FakeEvent] = field(default_factory=dict)
    responses: list[RecordedResponse] = field(default_factory=list)


class GraphState:
    """Users and their mailboxes; every public method is thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.users: dict[str, FakeUser] = {}
        self._seq = itertools.count(1)
        self.listeners: list[Any] = []  # callables (user, event) -> None, told of every change

    # --- users and calendars ------------------------------------------------------------------

    def add_user(self, email: str, *calendars: str, name: str | None = None) -> FakeUser:
        """A user whose first calendar (default "Calendar") is the default one."""
        with self.lock:
            user = FakeUser(email=email, name=name or email.split("@")[0].title())
            self.users[email.lower()] = user
            for index, calendar in enumerate(calendars or ("Calendar",)):
                self.add_calendar(email, calendar, default=index == 0)
            return user

    def add_calendar(
        self,
        email: str,
        name: str,
        *,
        default: bool = False,
        can_edit: bool = True,
        owner: str | None = None,
    ) -> str:
        with self.lock:
            user = self.user(email)
            calendar_id = new_id("AAMkCal")
            owner_email = owner or user.email
            user.calendars[calendar_id] = {
                "id": calendar_id,
                "name": name,
                "color": "auto",
                "isDefaultCalendar": default,
                "canEdit": can_edit,
                "canShare": owner_email == user.email,
                "owner": {"name": owner_email, "address": owner_email},
            }
            return calendar_id

    def user(self, email: str) -> FakeUser:
        with self.lock:
            return self.users[email.lower()]

    def calendar_by_name(self, email: str, name: str) -> str:
        with self.lock:
            for calendar in self.user(email).calendars.values():
                if calendar["name"] == name:
                    return str(calendar["id"])
        raise KeyError(name)

    # --- events -------------------------------------------------------------------------------

    def touch(self, user: FakeUser, event: FakeEvent) -> None:
        """Record a change of `event` (new sequence number, lastModified, listeners)."""
        event.seq = next(self._seq)
        event.last_modified = datetime.now(UTC)
        for listener in list(self.listeners):
            listener(user, event)

    def current_seq(self) -> int:
        with self.lock:
            seq = next(self._seq)  # consuming one keeps later changes strictly greater
            return seq

    def put(self, email: str, event: FakeEvent) -> FakeEvent:
        with self.lock:
            user = self.user(email)
            if event.calendar_id not in user.calendars:
                raise KeyError(event.calendar_id)
            user.events[event.id] = event
            self.touch(user, event)
            return event

    def add_event(
        self,
        email: str,
        calendar_id: str,
        subject: str,
        start: datetime,
        end: datetime,
        *,
        organizer: str | None = None,
        attendees: list[str] | tuple[str, ...] = (),
        **fields: Any,
    ) -> str:
        """An event; the user's own response is `notResponded` when someone else organizes it."""
        user = self.user(email)
        organizer = organizer or user.email
        own = organizer.lower() == user.email.lower()
        people = dict.fromkeys(attendees, "none" if own else "notResponded")
        if not own:
            people.setdefault(user.email, "notResponded")
        event = FakeEvent(
            id=new_id(),
            calendar_id=calendar_id,
            subject=subject,
            start=start.astimezone(UTC),
            end=end.astimezone(UTC),
            organizer=organizer,
            attendees=people,
            own_response="organizer" if own else "notResponded",
            **fields,
        )
        return self.put(email, event).id

    def insert_invite(
        self,
        email: str,
        calendar_id: str,
        title: str,
        start: datetime,
        end: datetime,
        organizer: str,
        attendees: list[str] | tuple[str, ...] = (),
        **fields: Any,
    ) -> str:
        """A meeting organized by someone else; the user is an attendee (notResponded)."""
        return self.add_event(
            email,
            calendar_id,
            title,
            start,
            end,
            organizer=organizer,
            attendees=attendees,
            **fields,
        )

    def add_weekly_series(
        self,
        email: str,
        calendar_id: str,
        title: str,
        first_start: datetime,
        duration: timedelta,
        count: int,
        *,
        organizer: str | None = None,
        attendees: list[str] | tuple[str, ...] = (),
    ) -> str:
        """A weekly series keeping the wall-clock time of `first_start`'s zone; the master id."""
        zone: tzinfo = first_start.tzinfo or UTC
        with self.lock:
            master_id = self.add_event(
                email,
                calendar_id,
                title,
                first_start,
                first_start + duration,
                organizer=organizer,
                attendees=attendees,
                type="seriesMaster",
            )
            user = self.user(email)
            master = user.events[master_id]
            wall = first_start.replace(tzinfo=None)
            for week in range(count):
                local = (wall + timedelta(weeks=week)).replace(tzinfo=zone)
                occurrence = dataclasses.replace(
                    master,
                    id=new_id(),
                    start=local.astimezone(UTC),
                    end=(local + duration).astimezone(UTC),
                    type="occurrence",
                    series_master_id=master_id,
                    attendees=dict(master.attendees),
                    ical_uid=f"{master.ical_uid}{week:04d}",
                    categories=list(master.categories),
                    ext=dict(master.ext),
                )
                self.put(email, occurrence)
            return master_id

    def get(self, email: str, event_id: str) -> FakeEvent | None:
        with self.lock:
            event = self.user(email).events.get(event_id)
            return None if event is None or event.deleted else event

    def family(self, email: str, event: FakeEvent) -> list[FakeEvent]:
        """The event plus, for a series master, its occurrences."""
        with self.lock:
            members = [event]
            if event.type == "seriesMaster":
                members += [
                    e
                    for e in self.user(email).events.values()
                    if e.series_master_id == event.id and not e.deleted
                ]
            return members

    def update(self, email: str, event_id: str, **changes: Any) -> FakeEvent:
        """Change fields of one event (a changed occurrence becomes an `exception`)."""
        with self.lock:
            event = self.get(email, event_id)
            if event is None:
                raise KeyError(event_id)
            for name, value in changes.items():
                if isinstance(value, datetime):
                    value = value.astimezone(UTC)
                setattr(event, name, value)
            if event.type == "occurrence" and {"start", "end", "subject"} & set(changes):
                event.type = "exception"
            self.touch(self.user(email), event)
            return event

    def delete(self, email: str, event_id: str) -> None:
        """Delete an event (a series master takes its occurrences with it)."""
        with self.lock:
            event = self.get(email, event_id)
            if event is None:
                raise KeyError(event_id)
            user = self.user(email)
            for member in self.family(email, event):
                member.deleted = True
                self.touch(user, member)

    def cancel(self, email: str, event_id: str) -> None:
        """The organizer cancels: the attendee's copy stays, `isCancelled` and renamed."""
        with self.lock:
            event = self.get(email, event_id)
            if event is None:
                raise KeyError(event_id)
            user = self.user(email)
            for member in self.family(email, event):
                member.is_cancelled = True
                member.subject = f"Canceled: {member.subject}"
                self.touch(user, member)

    def events(self, email: str, calendar_id: str | None = None) -> list[FakeEvent]:
        """Live events (masters included), in insertion order."""
        with self.lock:
            return [
                e
                for e in self.user(email).events.values()
                if not e.deleted and (calendar_id is None or e.calendar_id == calendar_id)
            ]

    def responses(self, email: str, event_id: str | None = None) -> list[RecordedResponse]:
        with self.lock:
            return [
                r for r in self.user(email).responses if event_id is None or r.event_id == event_id
            ]

    def respond(
        self,
        email: str,
        event_id: str,
        action: str,
        comment: str | None,
        send_response: bool,
        proposed: tuple[datetime, datetime] | None,
    ) -> None:
        """Change only the user's own attendee status on this event (one occurrence only)."""
        status = {
            "accept": "accepted",
            "decline": "declined",
            "tentativelyAccept": "tentativelyAccepted",
        }[action]
        with self.lock:
            user = self.user(email)
            event = self.get(email, event_id)
            if event is None:
                raise KeyError(event_id)
            members = self.family(email, event)
            for member in members:
                member.own_response = status
                for address in member.attendees:
                    if address.lower() == user.email.lower():
                        member.attendees[address] = status
                self.touch(user, member)
            user.responses.append(
                RecordedResponse(event_id, action, comment, send_response, proposed)
            )
