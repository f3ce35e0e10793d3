"""The growth log: one line per block (what was done, optionally what came of it).

Each ended block is asked about once (a notification with a per-block dedupe key): in the
in-app list when the person looks, or in the weekly report, whichever comes first. The ask
carries a signed, single-use link to a one-field page, so it works from an email too.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.growth_models import LogEntry, Milestone
from app.db.models import Block, BlockState, NotificationStatus, Plan, User
from app.domain.time import resolve_zone
from app.services import links
from app.services.errors import InvalidInputError, NotFoundError
from app.services.growth import milestones as milestone_service
from app.services.notifications import outbox

LOG_PURPOSE = "growth.log"
LOG_LINK_TTL = timedelta(days=30)
# Blocks that ended longer ago than this are not asked about any more (no backlog of nags).
ASK_WINDOW = timedelta(days=14)
PROMPT_KIND = "growth.log"
EXPORT_FIELDS = ("id", "day", "text", "outcome", "milestone", "block_start", "block_end")


@dataclass(frozen=True, slots=True)
class EntryInput:
    """An entry as written (lengths validated by the API schema or the form)."""

    text: str
    outcome: str = ""
    milestone_id: int | None = None
    milestone_done: bool = False
    day: date | None = None


def _user_blocks(user: User) -> Any:
    return (
        select(Block)
        .join(Plan, Plan.id == Block.plan_id)
        .where(Plan.user_id == user.id, Block.state == BlockState.BOOKED)
    )


def ended_unlogged(session: Session, user: User, now: datetime) -> list[Block]:
    """Blocks kept that ended within the ask window and have no entry yet, oldest first."""
    logged = select(LogEntry.block_id).where(
        LogEntry.user_id == user.id, LogEntry.block_id.is_not(None)
    )
    query = _user_blocks(user).where(
        Block.end <= now, Block.end > now - ASK_WINDOW, Block.id.not_in(logged)
    )
    return list(session.scalars(query.order_by(Block.start)))


def own_block(session: Session, user: User, block_id: int) -> Block:
    """The user's block; another user's is reported as not found."""
    block = session.get(Block, block_id)
    if block is None or session.get_one(Plan, block.plan_id).user_id != user.id:
        raise NotFoundError("block")
    return block


def link_token(secret: str, user_id: int, block_id: int) -> str:
    return links.make(secret, LOG_PURPOSE, {"u": user_id, "b": block_id})


def link_path(secret: str, user_id: int, block_id: int) -> str:
    """The one-field page for a block, with its signed token."""
    return f"/growth/blocks/{block_id}/log?t={quote(link_token(secret, user_id, block_id))}"


def read_link(session: Session, secret: str, block_id: int, token: str) -> tuple[User, Block]:
    """The user and block a log link is for; LinkRejectedError when it is not valid (any more)."""
    payload = links.read(secret, LOG_PURPOSE, token, LOG_LINK_TTL)
    if payload.get("b") != block_id or not isinstance(payload.get("u"), int):
        raise links.LinkRejectedError("This link is not valid.")
    if links.was_used(session, payload):
        raise links.LinkRejectedError("This link was already used.")
    user = session.get(User, payload["u"])
    if user is None:
        raise links.LinkRejectedError("This link is not valid.")
    try:
        return user, own_block(session, user, block_id)
    except NotFoundError:
        raise links.LinkRejectedError("This link is not valid.") from None


def use_link(session: Session, secret: str, token: str, now: datetime) -> None:
    payload = links.read(secret, LOG_PURPOSE, token, LOG_LINK_TTL)
    links.use_once(session, LOG_PURPOSE, payload, now, LOG_LINK_TTL)


def _when(block: Block, user: User) -> str:
    local = block.start.astimezone(resolve_zone(user.timezone))
    return local.strftime("%a %d %b, %H:%M")


def ask(session: Session, user: User, now: datetime, secret: str) -> list[tuple[Block, str]]:
    """Ask about every ended, unlogged block not asked about before; answers (block, link path).

    The ask is an in-app notification only (never sent to channels on its own): asks made by
    the weekly report travel inside that report, so each block is asked about once.
    """
    asked: list[tuple[Block, str]] = []
    for block in ended_unlogged(session, user, now):
        path = link_path(secret, user.id, block.id)
        payload = {
            "block_id": block.id,
            "start": block.start.isoformat(),
            "end": block.end.isoformat(),
            "url": path,
            "link_text": "Log what you did",
            "message": f"Your growth block on {_when(block, user)} ended: "
            "what did you do? One line is enough.",
        }
        note = outbox.record(
            session, user.id, PROMPT_KIND, payload, dedupe_key=f"{PROMPT_KIND}:{block.slot_key}"
        )
        if note is None:
            continue  # asked before: never twice
        note.status = NotificationStatus.DELIVERED
        asked.append((block, path))
    session.flush()
    return asked


def _milestone(session: Session, user: User, milestone_id: int | None) -> Milestone | None:
    if milestone_id is None:
        return None
    try:
        return milestone_service.get(session, user, milestone_id)
    except NotFoundError:
        raise InvalidInputError([("milestone_id", "no such milestone")]) from None


def _local_day(user: User, moment: datetime) -> date:
    return moment.astimezone(resolve_zone(user.timezone)).date()


def create(
    session: Session, user: User, block_id: int | None, entry: EntryInput, now: datetime
) -> LogEntry:
    """Log an entry (for a block, or free-standing); one entry per block."""
    block = own_block(session, user, block_id) if block_id is not None else None
    if block is not None:
        taken = session.scalar(select(LogEntry.id).where(LogEntry.block_id == block.id))
        if taken is not None:
            raise InvalidInputError([("block_id", "this block already has an entry; edit it")])
    day = entry.day or (_local_day(user, block.start) if block else _local_day(user, now))
    milestone = _milestone(session, user, entry.milestone_id)
    row = LogEntry(
        user_id=user.id,
        block_id=block.id if block else None,
        day=day,
        text=entry.text,
        outcome=entry.outcome,
        milestone_id=milestone.id if milestone else None,
    )
    session.add(row)
    if milestone is not None and entry.milestone_done:
        milestone_service.mark_done(session, user, milestone.id, day)
    session.flush()
    return row


def get(session: Session, user: User, entry_id: int) -> LogEntry:
    row = session.get(LogEntry, entry_id)
    if row is None or row.user_id != user.id:
        raise NotFoundError("log entry")
    return row


def update(session: Session, user: User, entry_id: int, entry: EntryInput) -> LogEntry:
    """Edit an entry's line, outcome, milestone (and day)."""
    row = get(session, user, entry_id)
    milestone = _milestone(session, user, entry.milestone_id)
    row.text, row.outcome = entry.text, entry.outcome
    row.milestone_id = milestone.id if milestone else None
    if entry.day is not None:
        row.day = entry.day
    if milestone is not None and entry.milestone_done:
        milestone_service.mark_done(session, user, milestone.id, row.day)
    session.flush()
    return row


def delete(session: Session, user: User, entry_id: int) -> None:
    session.delete(get(session, user, entry_id))
    session.flush()


def entries(
    session: Session, user: User, first: date | None = None, until: date | None = None
) -> list[LogEntry]:
    """The user's entries, by day; ``until`` is exclusive."""
    query = select(LogEntry).where(LogEntry.user_id == user.id)
    if first is not None:
        query = query.where(LogEntry.day >= first)
    if until is not None:
        query = query.where(LogEntry.day < until)
    return list(session.scalars(query.order_by(LogEntry.day, LogEntry.id)))


def export_rows(session: Session, user: User, rows: list[LogEntry]) -> list[dict[str, Any]]:
    """Entries as plain records (milestone title and block times spelled out)."""
    titles = {
        m.id: m.title
        for m in session.scalars(select(Milestone).where(Milestone.user_id == user.id))
    }
    out: list[dict[str, Any]] = []
    for row in rows:
        block = session.get(Block, row.block_id) if row.block_id is not None else None
        out.append(
            {
                "id": row.id,
                "day": row.day.isoformat(),
                "text": row.text,
                "outcome": row.outcome,
                "milestone": titles.get(row.milestone_id, "") if row.milestone_id else "",
                "block_start": block.start.isoformat() if block else "",
                "block_end": block.end.isoformat() if block else "",
            }
        )
    return out


def _csv_safe(value: Any) -> Any:
    # A cell starting with = + - @ is a formula to spreadsheets: prefix it so it stays text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _csv_safe(v) for k, v in record.items()})
    return buffer.getvalue()


def to_json(records: list[dict[str, Any]]) -> str:
    return json.dumps(records, ensure_ascii=False, indent=2)


@dataclass(frozen=True, slots=True)
class Linker:
    """What the weekly report needs to ask about blocks: the signing key and the public URL."""

    secret: str
    public_url: str

    @classmethod
    def of(cls, settings: Any) -> Linker:
        return cls(settings.secret_key.get_secret_value(), settings.public_url.rstrip("/"))

    def weekly_ask(self, session: Session, user: User, now: datetime) -> dict[str, Any]:
        """Payload additions for the weekly report: links for blocks not asked about yet.

        The links go into the message too, so every channel (email, Slack, webhook) shows them.
        """
        asked = ask(session, user, now, self.secret)
        if not asked:
            return {}
        urls = [self.public_url + path for _, path in asked]
        text = (
            f"{len(urls)} growth block(s) ended without a line in your log; "
            "write what you did (one line is enough): " + " ".join(urls)
        )
        return {"log_links": urls, "log_message": text}
