"""Quiet periods: at a block's start set the status and snooze, at its end put things back.

Every step is idempotent: a period row per block (unique) is written, with the status that
was there before, before anything is set; a second sweep finds it and sets nothing again. A
period whose block ended while the process was down is ended by the next run for that person
(a sweep, or the next block's start), before anything new starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.db.models import Block, BlockState, Plan, User
from app.db.quiet_models import QuietPeriod, QuietState, SlackLink, SlackStatus
from app.domain.quiet import ChatStatus, is_ours, status_for, to_restore
from app.domain.time import resolve_zone
from app.security import CredentialCipher
from app.services.notifications import outbox
from app.services.quiet.link import token_of
from app.services.quiet.slack import ChatApi, ChatFactory
from connectors.errors import ConnectorError, RateLimited, ReauthRequired, TransientError

MIN_QUIET = timedelta(minutes=1)  # a block with less left than this is not worth a status
# Retries spent: the sweep leaves the person alone this long, then a new round of back-off.
GIVE_UP_PAUSE = timedelta(minutes=15)
Retry = Callable[[BaseException, int], "float | None"]  # (error, attempt) -> delay or give up


@dataclass(frozen=True)
class Outcome:
    """One run for one person: what changed, and when to run again after a failure."""

    started: int = 0
    ended: int = 0
    retry_in: float | None = None
    problem: str | None = None


def due_users(session: Session, now: datetime) -> list[int]:
    """People with something to do now: a quiet period to end or finish, or quiet mode on and
    a booked block under way without a period. Reconnect-needed and backing-off links wait."""
    # Open periods that need something: to end (the block ended, went or moved, quiet was
    # turned off) or to finish starting. One still under way costs no call to Slack.
    open_periods = (
        select(QuietPeriod.user_id)
        .join(SlackLink, SlackLink.user_id == QuietPeriod.user_id)
        .outerjoin(Block, Block.id == QuietPeriod.block_id)
        .where(
            QuietPeriod.state != QuietState.DONE,
            or_(
                QuietPeriod.state == QuietState.STARTING,
                SlackLink.quiet_enabled.is_(False),
                Block.id.is_(None),
                Block.state != BlockState.BOOKED,
                Block.start > now,
                Block.end <= now,
            ),
        )
    )
    blocks_now = (
        select(Plan.user_id)
        .join(Block, Block.plan_id == Plan.id)
        .outerjoin(QuietPeriod, QuietPeriod.block_id == Block.id)
        .where(
            Plan.active.is_(True),
            Block.state == BlockState.BOOKED,
            Block.start <= now,
            Block.end > now + MIN_QUIET,
            QuietPeriod.id.is_(None),
        )
    )
    return list(
        session.scalars(
            select(SlackLink.user_id)
            .where(
                SlackLink.status != SlackStatus.NEEDS_REAUTH,
                or_(SlackLink.retry_at.is_(None), SlackLink.retry_at <= now),
                or_(
                    SlackLink.user_id.in_(open_periods),
                    and_(SlackLink.quiet_enabled.is_(True), SlackLink.user_id.in_(blocks_now)),
                ),
            )
            .order_by(SlackLink.user_id)
        )
    )


def run_user(
    session: Session,
    user_id: int,
    now: datetime,
    *,
    cipher: CredentialCipher,
    chat_for: ChatFactory,
    retry: Retry,
    checkpoint: Callable[[], None],
) -> Outcome:
    """End what should end, then start quiet for the block under way (if any).

    `checkpoint` commits (the task passes `session.commit`): a period row and the status it
    remembers are stored before Slack is changed. A Slack failure is recorded on the link: a
    lost grant asks the person to reconnect, a transient one backs off as `retry` says.
    """
    link = session.scalars(
        select(SlackLink).where(SlackLink.user_id == user_id).with_for_update()
    ).first()
    user = session.get(User, user_id)
    if link is None or user is None or link.status == SlackStatus.NEEDS_REAUTH:
        return Outcome()
    if link.retry_at is not None and link.retry_at > now:
        return Outcome()
    try:
        chat = chat_for(token_of(cipher, link))
    except ValueError:  # encrypted with a key no longer configured
        return _needs_reauth(session, link, "the stored Slack token cannot be decrypted", 0, 0)
    started = ended = 0
    try:
        still_open = False
        for period in _open_periods(session, user_id):
            block = session.get(Block, period.block_id) if period.block_id is not None else None
            if _covers(link, block, now):
                still_open = True
                if period.state == QuietState.STARTING:
                    _apply(chat, period, now)  # a run died between remembering and setting
                    checkpoint()
                continue
            end_period(chat, period, now)
            if block is not None and block.end > now:
                # Moved later, or quiet turned off mid-block: the block may be quiet again
                # when it (re)starts; the period row no longer claims it.
                period.block_id = None
            ended += 1
            checkpoint()
        block = None if still_open or not link.quiet_enabled else _block_now(session, user_id, now)
        if block is not None:
            _start(session, chat, user, block, now, checkpoint)
            started += 1
    except ReauthRequired as error:
        return _needs_reauth(session, link, str(error), started, ended)
    except TransientError as error:
        return _back_off(session, link, error, now, retry, started, ended)
    except ConnectorError as error:
        return _failed(session, link, f"Slack refused the change ({error})", started, ended)
    # Slack answered: a back-off or an earlier failure is over.
    link.failures, link.retry_at = 0, None
    link.status, link.status_detail = SlackStatus.OK, ""
    return Outcome(started=started, ended=ended)


def end_period(chat: ChatApi, period: QuietPeriod, now: datetime) -> None:
    """Put back the status from before, unless the person set another one meanwhile, and end
    the snooze we started if it is still running."""
    ours = ChatStatus(period.status_text, period.status_emoji, int(period.ends_at.timestamp()))
    previous = ChatStatus(period.previous_text, period.previous_emoji, period.previous_expiration)
    current = chat.status()
    restore = to_restore(current, ours, previous, now)
    theirs = not is_ours(current, ours) and not (current.empty and now >= period.ends_at)
    if restore is not None:
        chat.set_status(restore)
    if period.snooze_until is not None and now < period.snooze_until:
        chat.end_snooze()
    period.state, period.ended_at = QuietState.DONE, now
    period.outcome = "kept_theirs" if theirs else "restored"


def _open_periods(session: Session, user_id: int) -> list[QuietPeriod]:
    return list(
        session.scalars(
            select(QuietPeriod)
            .where(QuietPeriod.user_id == user_id, QuietPeriod.state != QuietState.DONE)
            .order_by(QuietPeriod.id)
        )
    )


def _covers(link: SlackLink, block: Block | None, now: datetime) -> bool:
    return (
        link.quiet_enabled
        and block is not None
        and block.state == BlockState.BOOKED
        and block.start <= now < block.end
    )


def _block_now(session: Session, user_id: int, now: datetime) -> Block | None:
    return session.scalars(
        select(Block)
        .join(Plan, Plan.id == Block.plan_id)
        .outerjoin(QuietPeriod, QuietPeriod.block_id == Block.id)
        .where(
            Plan.user_id == user_id,
            Plan.active.is_(True),
            Block.state == BlockState.BOOKED,
            Block.start <= now,
            Block.end > now + MIN_QUIET,
            QuietPeriod.id.is_(None),
        )
        .order_by(Block.end.desc(), Block.id)
        .limit(1)
    ).first()


def _start(
    session: Session,
    chat: ChatApi,
    user: User,
    block: Block,
    now: datetime,
    checkpoint: Callable[[], None],
) -> None:
    # The text is generic: a block's title never leaves for the chat (it may be anything).
    ours = status_for(block.end, resolve_zone(user.timezone))
    current = chat.status()
    # Our own status already there (a run died after setting it): nothing of theirs to keep.
    previous = ChatStatus() if is_ours(current, ours) else current
    period = QuietPeriod(
        user_id=user.id,
        block_id=block.id,
        state=QuietState.STARTING,
        ends_at=block.end,
        status_text=ours.text,
        status_emoji=ours.emoji,
        previous_text=previous.text,
        previous_emoji=previous.emoji[:200],
        previous_expiration=previous.expiration,
        started_at=now,
    )
    session.add(period)
    session.flush()
    checkpoint()  # remembered before anything is changed
    _apply(chat, period, now)
    checkpoint()


def _apply(chat: ChatApi, period: QuietPeriod, now: datetime) -> None:
    chat.set_status(
        ChatStatus(period.status_text, period.status_emoji, int(period.ends_at.timestamp()))
    )
    period.snooze_until = chat.snooze_until(period.ends_at, now)
    period.state = QuietState.ON


def _needs_reauth(
    session: Session, link: SlackLink, detail: str, started: int, ended: int
) -> Outcome:
    if link.status != SlackStatus.NEEDS_REAUTH:
        link.status, link.status_detail = SlackStatus.NEEDS_REAUTH, detail
        outbox.record(
            session,
            link.user_id,
            "slack.needs_reauth",
            {
                "message": "GrowthGuard lost access to your Slack status; reconnect Slack "
                "to keep quiet mode working.",
                "url": "/dashboard/quiet",
                "link_text": "Reconnect Slack",
            },
        )
    return Outcome(started=started, ended=ended, problem=detail)


def _back_off(
    session: Session,
    link: SlackLink,
    error: TransientError,
    now: datetime,
    retry: Retry,
    started: int,
    ended: int,
) -> Outcome:
    attempt = link.failures + 1
    delay = retry(error, attempt)
    if delay is None:
        link.failures, link.retry_at = 0, now + GIVE_UP_PAUSE
        return _failed(session, link, f"Slack did not answer: {error}", started, ended)
    link.failures, link.retry_at = attempt, now + timedelta(seconds=delay)
    what = "Slack asked us to slow down" if isinstance(error, RateLimited) else str(error)
    link.status_detail = f"{what}; trying again in {delay:.0f} s"
    return Outcome(started=started, ended=ended, retry_in=delay, problem=str(error))


def _failed(session: Session, link: SlackLink, detail: str, started: int, ended: int) -> Outcome:
    if link.status != SlackStatus.ERROR:
        outbox.record(
            session,
            link.user_id,
            "slack.failed",
            {
                "message": f"Your Slack status could not be changed: {detail}",
                "url": "/dashboard/quiet",
            },
        )
    link.status, link.status_detail = SlackStatus.ERROR, detail
    return Outcome(started=started, ended=ended, problem=detail)
