"""Booking one week for many plans at once, with the database reads of a chunk done together.

`booking.book_week` reads the person, their calendars, the week's blocks and the last run for
each plan (a handful of queries per plan) and commits after every block. Here a chunk of plans
gets those reads in eight queries, each plan is booked exactly as `book_week` does, and the
chunk's rows are written together in one commit. A crash before that commit loses only rows:
the blocks exist at the provider, tagged with their slot keys, and the next run adopts them.
A provider failure or a blocked plan stops only that plan (its records are kept, as the
per-plan job keeps them). On SQLite the writer lock is held from a chunk's first write to its
commit, so keep chunks small where providers are slow.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Account, Block, BookingRun, Calendar, ChosenWeek, Plan, User
from app.domain.time import IsoWeek
from app.services.accounts.live import ConnectorFor
from app.services.booking.reconcile import (
    BookingBlockedError,
    BookingReport,
    Preloaded,
    book_week,
    record_run,
)
from app.services.growth.titles import Titles
from app.services.planning import days_off
from connectors.errors import ConnectorError


@dataclass
class BatchOutcome:
    """What a batch booking did: reports of booked plans, and the plans that need a retry
    (a provider failed: book them again with the per-plan job) or were blocked."""

    reports: list[BookingReport] = field(default_factory=list)
    failed: dict[int, ConnectorError] = field(default_factory=dict)
    blocked: dict[int, str] = field(default_factory=dict)


def preload(session: Session, plans: Sequence[Plan], week: IsoWeek) -> dict[int, Preloaded]:
    """Everything `book_week` reads from the database for these plans, in eight queries."""
    plan_ids = [plan.id for plan in plans]
    user_ids = {plan.user_id for plan in plans}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
    calendars: dict[int, list[tuple[Account, Calendar]]] = defaultdict(list)
    for account, calendar in session.execute(
        select(Account, Calendar)
        .join(Calendar, Calendar.account_id == Account.id)
        .where(Account.user_id.in_(user_ids))
        .order_by(Account.id, Calendar.id)
    ):
        calendars[account.user_id].append((account, calendar))
    rows: dict[int, list[Block]] = defaultdict(list)
    for row in session.scalars(
        select(Block).where(Block.plan_id.in_(plan_ids), Block.week == str(week)).order_by(Block.id)
    ):
        rows[row.plan_id].append(row)
    runs = {
        run.plan_id: run
        for run in session.scalars(
            select(BookingRun).where(BookingRun.plan_id.in_(plan_ids), BookingRun.week == str(week))
        )
    }
    chosen = set(
        session.scalars(
            select(ChosenWeek.plan_id).where(
                ChosenWeek.plan_id.in_(plan_ids), ChosenWeek.week == str(week)
            )
        )
    )
    titles = Titles.load_many(session, plan_ids)
    leave = days_off.leave_dates_many(
        session, user_ids, week.monday(), week.monday() + timedelta(days=6)
    )
    return {
        plan.id: Preloaded(
            user=users[plan.user_id],
            calendars=calendars[plan.user_id],
            rows=rows[plan.id],
            run=runs.get(plan.id),
            titles=titles[plan.id],
            leave=leave.get(plan.user_id, set()),
            chosen=plan.id in chosen,
        )
        for plan in plans
    }


def book_plans(
    sessions: sessionmaker[Session],
    plan_ids: Sequence[int],
    week: IsoWeek,
    now: datetime,
    connectors: ConnectorFor,
    *,
    chunk: int = 100,
) -> BatchOutcome:
    """Book ``week`` for every active plan in ``plan_ids``, ``chunk`` plans per read.

    Plans are booked in the order given; one plan's failure does not stop the others.
    """
    outcome = BatchOutcome()
    for first in range(0, len(plan_ids), chunk):
        ids = list(plan_ids[first : first + chunk])
        with sessions() as session:
            found = {
                p.id: p
                for p in session.scalars(
                    select(Plan).where(Plan.id.in_(ids), Plan.active.is_(True))
                )
            }
            plans = [found[i] for i in ids if i in found]
            loaded = preload(session, plans, week)
            try:
                for plan in plans:
                    _book_one(session, plan, week, now, connectors, loaded[plan.id], outcome)
            except BaseException:
                session.rollback()
                raise
            session.commit()
    return outcome


def _book_one(
    session: Session,
    plan: Plan,
    week: IsoWeek,
    now: datetime,
    connectors: ConnectorFor,
    preloaded: Preloaded,
    outcome: BatchOutcome,
) -> None:
    try:
        report = book_week(session, plan, week, now, connectors, _no_checkpoint, preloaded)
    except BookingBlockedError as error:
        # as the per-plan job: keep the account status and notification it recorded
        record_run(
            session,
            plan.id,
            week,
            now,
            "blocked",
            reason=str(error),
            run=preloaded.run,
            looked_up=True,
        )
        outcome.blocked[plan.id] = str(error)
        return
    except ConnectorError as error:
        # keeps the blocks, account status, notification and audit it recorded
        outcome.failed[plan.id] = error
        return
    outcome.reports.append(report)


def _no_checkpoint() -> None:
    """Rows are written together at the chunk's commit (one round trip per table)."""
