"""Incremental sync of one calendar into the events cache."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db.models import Account, AccountStatus, Calendar, CalendarEvent
from app.services.accounts.live import ConnectorFor
from app.services.accounts.rows import mark_needs_reauth
from app.services.sync.last_error import record_failure, record_success
from connectors.base import Event, EventStatus
from connectors.errors import CursorExpired, ReauthRequired


@dataclass(frozen=True)
class SyncResult:
    """What one sync changed in the cache."""

    calendar_id: int
    full: bool
    changed: list[Event]
    removed_ids: list[str]


def sync_calendar(
    session: Session, calendar: Calendar, connectors: ConnectorFor, now: datetime
) -> SyncResult | None:
    """Pull changes since the stored cursor (a full sync when there is none or it expired).

    Returns None when the account needs to be reconnected (surfaced on the account).
    """
    account = session.get_one(Account, calendar.account_id)
    if account.status == AccountStatus.NEEDS_REAUTH:
        return None
    connector = connectors(account)
    full = calendar.sync_cursor is None
    try:
        try:
            page = connector.sync(calendar.provider_calendar_id, calendar.sync_cursor)
        except CursorExpired:
            full = True
            page = connector.sync(calendar.provider_calendar_id, None)
    except ReauthRequired as error:
        mark_needs_reauth(session, account, str(error))
        record_failure(calendar, error, now)
        return None
    if full:
        # A full listing is the whole truth: anything cached but not listed is gone.
        stale = delete(CalendarEvent).where(CalendarEvent.calendar_id == calendar.id)
        listed = [event.id for event in page.changed]
        if listed:
            stale = stale.where(CalendarEvent.provider_event_id.not_in(listed))
        session.execute(stale)
    for event in page.changed:
        if event.status is EventStatus.CANCELLED:
            _remove(session, calendar, [event.id])
        else:
            _upsert(session, calendar, event, now)
    _remove(session, calendar, page.removed_ids)
    calendar.sync_cursor = page.next_cursor
    calendar.last_synced_at = now
    record_success(calendar)
    if account.status == AccountStatus.ERROR:
        account.status, account.status_detail = AccountStatus.OK, ""
    session.flush()
    return SyncResult(calendar.id, full, list(page.changed), list(page.removed_ids))


def _remove(session: Session, calendar: Calendar, ids: list[str]) -> None:
    if ids:
        session.execute(
            delete(CalendarEvent).where(
                CalendarEvent.calendar_id == calendar.id,
                CalendarEvent.provider_event_id.in_(ids),
            )
        )


def _upsert(session: Session, calendar: Calendar, event: Event, now: datetime) -> None:
    row = session.scalars(
        select(CalendarEvent).where(
            CalendarEvent.calendar_id == calendar.id,
            CalendarEvent.provider_event_id == event.id,
        )
    ).first()
    if row is None:
        row = CalendarEvent(calendar_id=calendar.id, provider_event_id=event.id)
        session.add(row)
    row.title = event.title
    row.start, row.end = event.start, event.end
    row.all_day, row.busy = event.all_day, event.busy
    row.status, row.event_type = event.status.value, event.event_type.value
    row.organizer_email = event.organizer_email
    row.self_is_organizer = event.self_is_organizer
    row.self_response = event.self_response.value if event.self_response else None
    row.attendee_count = event.attendee_count
    row.series_id = event.series_id
    row.tag_plan_id = event.tag.plan_id if event.tag else None
    row.tag_slot_key = event.tag.slot_key if event.tag else None
    row.updated = event.updated
    row.synced_at = now


def cached_events(
    session: Session, calendar: Calendar, start: datetime | None = None, end: datetime | None = None
) -> list[CalendarEvent]:
    """Cached events of a calendar, optionally overlapping [start, end), by start time."""
    query = select(CalendarEvent).where(CalendarEvent.calendar_id == calendar.id)
    if start is not None:
        query = query.where(CalendarEvent.end > start)
    if end is not None:
        query = query.where(CalendarEvent.start < end)
    return list(session.scalars(query.order_by(CalendarEvent.start, CalendarEvent.id)))
