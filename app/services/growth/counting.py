"""Counting other calendar events as growth: the person's rules and single-event marks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from app.db.growth_models import EventMark, GrowthSettings
from app.db.models import Account, Calendar, CalendarEvent, User
from app.domain.growth_rules import MAX_RULE_ITEMS, GrowthRules, counts_as_growth
from app.services.errors import InvalidInputError, NotFoundError
from connectors.base import Event

RULE_FIELDS = ("organizers", "title_words", "calendars")


def rules_of(session: Session, user: User) -> GrowthRules:
    """The user's rules; the default is the ``#growth`` tag alone."""
    row = session.get(GrowthSettings, user.id)
    if row is None:
        return GrowthRules()
    data = row.rules
    return GrowthRules.of(
        keyword=str(data.get("keyword", "")),
        organizers=data.get("organizers", []),
        title_words=data.get("title_words", []),
        calendars=data.get("calendars", []),
    )


def rules_document(rules: GrowthRules) -> dict[str, Any]:
    return {
        "keyword": rules.keyword,
        "organizers": list(rules.organizers),
        "title_words": list(rules.title_words),
        "calendars": list(rules.calendars),
    }


def set_rules(session: Session, user: User, rules: GrowthRules) -> GrowthRules:
    """Store the rules (normalised)."""
    for name in RULE_FIELDS:
        if len(getattr(rules, name)) > MAX_RULE_ITEMS:
            raise InvalidInputError([(name, f"at most {MAX_RULE_ITEMS} entries")])
    row = session.get(GrowthSettings, user.id)
    document = rules_document(rules)
    if row is None:
        session.add(GrowthSettings(user_id=user.id, rules=document))
    else:
        row.rules = document
    session.flush()
    return rules


def own_calendar(session: Session, user: User, calendar_id: int) -> Calendar:
    """The user's calendar; another user's is reported as not found."""
    calendar = session.get(Calendar, calendar_id)
    if calendar is None or session.get_one(Account, calendar.account_id).user_id != user.id:
        raise NotFoundError("calendar")
    return calendar


def set_mark(
    session: Session, user: User, calendar_id: int, provider_event_id: str, growth: bool | None
) -> None:
    """Count one event as growth (True), not (False), or by the rules again (None)."""
    own_calendar(session, user, calendar_id)
    row = session.scalars(
        select(EventMark).where(
            EventMark.calendar_id == calendar_id,
            EventMark.provider_event_id == provider_event_id,
        )
    ).first()
    if growth is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(
            EventMark(
                user_id=user.id,
                calendar_id=calendar_id,
                provider_event_id=provider_event_id,
                growth=growth,
            )
        )
    else:
        row.growth = growth
    session.flush()


@dataclass(frozen=True)
class Decider:
    """Decides events of one user: rules, calendar names and marks loaded once."""

    rules: GrowthRules
    calendar_names: dict[int, str]
    marks: dict[tuple[int, str], bool]

    def row(self, row: CalendarEvent) -> bool:
        return counts_as_growth(
            self.rules,
            title=row.title,
            organizer=row.organizer_email,
            calendar=self.calendar_names.get(row.calendar_id, ""),
            mark=self.marks.get((row.calendar_id, row.provider_event_id)),
        )

    def event(self, calendar: Calendar, event: Event) -> bool:
        return counts_as_growth(
            self.rules,
            title=event.title,
            organizer=event.organizer_email,
            calendar=calendar.name,
            mark=self.marks.get((calendar.id, event.id)),
        )


def decider(session: Session, user: User, keys: Iterable[tuple[int, str]] = ()) -> Decider:
    """A decider for the user; ``keys`` (calendar id, event id) limit the marks loaded."""
    calendars = session.execute(
        select(Calendar.id, Calendar.name)
        .join(Account, Account.id == Calendar.account_id)
        .where(Account.user_id == user.id)
    ).all()
    query = select(EventMark).where(EventMark.user_id == user.id)
    wanted = list(keys)
    if wanted:
        query = query.where(tuple_(EventMark.calendar_id, EventMark.provider_event_id).in_(wanted))
    marks = {(m.calendar_id, m.provider_event_id): m.growth for m in session.scalars(query)}
    return Decider(
        rules=rules_of(session, user),
        calendar_names={int(cid): str(name) for cid, name in calendars},
        marks=marks,
    )


def events_to_count(
    session: Session, user: User, start: datetime, end: datetime, limit: int = 200
) -> list[tuple[CalendarEvent, Calendar]]:
    """The user's timed events overlapping [start, end) that may count as growth (not our own
    blocks, not all-day), in start order, each with its calendar; at most `limit`."""
    rows = session.execute(
        select(CalendarEvent, Calendar)
        .join(Calendar, Calendar.id == CalendarEvent.calendar_id)
        .join(Account, Account.id == Calendar.account_id)
        .where(
            Account.user_id == user.id,
            CalendarEvent.tag_slot_key.is_(None),
            CalendarEvent.all_day.is_(False),
            CalendarEvent.end > start,
            CalendarEvent.start < end,
        )
        .order_by(CalendarEvent.start)
        .limit(limit)
    ).all()
    return [(event, calendar) for event, calendar in rows]
