"""Weekly booking: reconcile a plan's blocks for one ISO week with the calendars.

Idempotent by construction: every block has a slot key (plan, week, ordinal) that is stored in
our table *and* tagged on the provider's event, and connectors create by slot key. Re-running,
or re-running after a crash half-way, adopts what already exists and books only what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import (
    Account,
    AccountStatus,
    Block,
    BlockState,
    BookingRun,
    Calendar,
    ChosenWeek,
    Plan,
    User,
)
from app.domain import defense
from app.domain.intervals import Interval
from app.domain.plan import PlanSpec
from app.domain.planner import Busy, PlannerResult, plan_week
from app.domain.time import IsoWeek
from app.services import audit
from app.services.accounts.live import ConnectorFor
from app.services.accounts.rows import mark_gone, mark_needs_reauth, target_calendar, user_calendars
from app.services.booking import defense as defense_service
from app.services.growth import titles as growth_titles
from app.services.notifications import outbox
from app.services.planning import days_off
from app.services.planning.plans import allowed_time_left, plan_spec, plan_working_hours, plan_zone
from app.services.sync import channel_cache
from connectors.base import (
    BlockSpec,
    BlockTag,
    CalendarConnector,
    Event,
    EventStatus,
    EventType,
    SelfResponse,
)
from connectors.errors import ConnectorError, NotFound, RateLimited, ReauthRequired


def slot_key(plan_id: int, week: IsoWeek, ordinal: int) -> str:
    """Deterministic block identity: the same plan, week and ordinal give the same key."""
    return f"{plan_id}.{week}.{ordinal}"


def parse_slot_key(key: str) -> tuple[int, IsoWeek, int]:
    plan_id, week, ordinal = key.split(".")
    return int(plan_id), IsoWeek.parse(week), int(ordinal)


@dataclass
class Preloaded:
    """What booking reads from the database for one plan, read beforehand for many plans at
    once (`booking_batch`): the person, their calendars in `user_calendars` order, the plan's
    block rows of the week and its last booking run of the week."""

    user: User
    calendars: list[tuple[Account, Calendar]]
    rows: list[Block]
    run: BookingRun | None
    titles: growth_titles.Titles | None = None
    leave: set[date] | None = None  # the person's leave days in the week
    chosen: bool | None = None  # the person chose this week's slots (None: not read yet)


class BookingBlockedError(Exception):
    """Booking for this week cannot proceed safely (e.g. a busy source cannot be read)."""


@dataclass
class WeekAssessment:
    """What booking would do for one week, computed without writing anything."""

    plan: Plan
    week: IsoWeek
    kept: list[Block]
    lost: list[Block]
    adopted: list[tuple[Event, int]]  # provider blocks we have no row for, with their ordinal
    moved: list[tuple[Block, Event]]  # blocks the person moved: we follow them
    result: PlannerResult
    target: tuple[Account, Calendar] | None
    next_ordinal: int
    time_left: bool = True  # an allowed day still had time when assessed (else: no alert)
    target_note: str = ""  # why days off reduced the week's target ("" when they did not)
    now: datetime | None = None  # when assessed: whether a new flexible block starts free
    free_minutes: float | None = None  # the week's free window time left (flexible squeeze)


@dataclass(frozen=True)
class BookingReport:
    """The outcome of one booking run for one week."""

    plan_id: int
    week: str
    created: list[str]
    kept: list[str]
    lost: list[str]
    adopted: list[str]
    booked_minutes: int
    target_minutes: int
    shortfall_reason: str | None
    target_note: str = ""


def to_busy(event: Event) -> Busy:
    """Map a provider event to planner busy time (OOO blocks its whole day)."""
    return Busy(
        start=event.start,
        end=event.end,
        all_day=event.all_day,
        out_of_office=event.event_type is EventType.OUT_OF_OFFICE,
    )


def counts_as_busy(event: Event) -> bool:
    """Busy for planning: opaque, not cancelled, not declined by the person."""
    return (
        event.busy
        and event.status is not EventStatus.CANCELLED
        and event.self_response is not SelfResponse.DECLINED
        and event.event_type is not EventType.WORKING_LOCATION
    )


def read_busy_sources(
    session: Session,
    user: User,
    start: datetime,
    end: datetime,
    connectors: ConnectorFor,
    now: datetime,
    calendars: list[tuple[Account, Calendar]] | None = None,
) -> list[Event]:
    """Events from every busy-source calendar of every account the user has connected.

    A source that cannot be read stops the booking: booking over time we cannot see could
    double-book the person. A revoked grant is surfaced on the account as well; a calendar
    deleted at the provider is marked gone (the person is told) and has no events to respect.
    """
    events: list[Event] = []
    if calendars is None:
        calendars = user_calendars(session, user)
    for account, calendar in calendars:
        if not calendar.is_busy_source or calendar.gone_at is not None:
            continue
        try:
            connector = connectors(account)
            events.extend(connector.list_events(calendar.provider_calendar_id, start, end))
        except NotFound:
            mark_gone(session, calendar, now)
        except ReauthRequired as error:
            mark_needs_reauth(session, account, str(error))
            raise BookingBlockedError(
                f"{account.display_name} needs to be reconnected before booking"
            ) from error
    return events


def booking_obstacle(session: Session, plan: Plan) -> str | None:
    """Why booking this plan cannot run now (without asking any provider), or None."""
    if not plan.active:
        return "the plan is paused; resume it first"
    user = session.get_one(User, plan.user_id)
    for account, calendar in user_calendars(session, user):
        needs = calendar.is_busy_source or calendar.is_target
        if needs and account.status == AccountStatus.NEEDS_REAUTH:
            return f"{account.display_name} needs to be reconnected before booking"
    if target_calendar(session, user) is None:
        return "no calendar is chosen as the target for growth blocks; connect or choose one"
    return None


def assess_week(
    session: Session,
    plan: Plan,
    week: IsoWeek,
    now: datetime,
    connectors: ConnectorFor,
    preloaded: Preloaded | None = None,
) -> WeekAssessment:
    """Reconcile stored blocks with the calendars and run the planner, without writing."""
    user = preloaded.user if preloaded is not None else session.get_one(User, plan.user_id)
    calendars = preloaded.calendars if preloaded is not None else user_calendars(session, user)
    spec = plan_spec(plan)
    zone = plan_zone(spec, user)
    window = Interval(week.start(zone), week.end(zone))
    margin = timedelta(minutes=spec.buffer_minutes)
    events = read_busy_sources(
        session, user, window.start - margin, window.end + margin, connectors, now, calendars
    )
    target = next(((a, c) for a, c in calendars if c.is_target), None)
    if target is not None and not target[1].is_busy_source:
        # Blocks live on the target; we must see them even if it is not a busy source.
        target_account, target_cal = target
        try:
            listed = connectors(target_account).list_events(
                target_cal.provider_calendar_id, window.start, window.end
            )
        except NotFound:
            mark_gone(session, target_cal, now)
            raise BookingBlockedError(
                "the calendar chosen for growth blocks was deleted; choose another"
            ) from None
        events.extend(e for e in listed if e.tag is not None)

    ours: dict[str, Event] = {}
    busy: list[Busy] = []
    own_busy: list[Interval] = []  # this plan's blocks shown busy: taken, for the squeeze
    for event in events:
        if event.tag is not None and event.tag.plan_id == str(plan.id):
            if event.tag.slot_key.split(".")[1:2] == [str(week)]:
                ours[event.tag.slot_key] = event
                if event.busy:
                    own_busy.append(Interval(event.start, event.end))
            continue  # this plan's own blocks are never busy time for itself
        if counts_as_busy(event):
            busy.append(to_busy(event))

    if preloaded is not None:
        rows = preloaded.rows
    else:
        rows = list(
            session.scalars(
                select(Block).where(Block.plan_id == plan.id, Block.week == str(week))
            ).all()
        )
    known = {row.slot_key for row in rows}
    kept: list[Block] = []
    lost: list[Block] = []
    moved: list[tuple[Block, Event]] = []
    kept_intervals: list[Interval] = []
    for row in rows:
        found = ours.get(row.slot_key)
        if row.state == BlockState.LOST or (found is None and row.end > now):
            lost.append(row)
            continue
        kept.append(row)
        if found is not None and (found.start, found.end) != (row.start, row.end):
            moved.append((row, found))  # the person moved it: follow them
            kept_intervals.append(Interval(found.start, found.end))
        else:
            # A past block missing from the calendar is history, not a loss.
            kept_intervals.append(Interval(row.start, row.end))
    adopted = [
        (event, parse_slot_key(key)[2]) for key, event in sorted(ours.items()) if key not in known
    ]
    kept_intervals += [Interval(event.start, event.end) for event, _ in adopted]
    consumed = sum(round((row.end - row.start).total_seconds() / 60) for row in lost)
    # Leave, public holidays and mostly-away days offer no time and shrink the target.
    reduced = days_off.week_targets(
        session,
        user,
        spec,
        [week],
        away=days_off.away_of_events(events),
        leave=preloaded.leave if preloaded is not None else None,
    )[week]
    result = plan_week(
        spec,
        week,
        busy,
        now,
        zone=zone,
        working_hours=plan_working_hours(spec, user),
        kept=kept_intervals,
        consumed_minutes=consumed,
        days_off={d.day for d in reduced.days_off},
        target_minutes=reduced.minutes,
    )
    chosen = preloaded.chosen if preloaded is not None else None
    if chosen is None:
        chosen = session.get(ChosenWeek, (plan.id, str(week))) is not None
    if chosen:
        # the person chose this week's slots: exactly their pinned blocks, nothing added
        result = PlannerResult(
            new_blocks=[],
            target_minutes=result.target_minutes,
            booked_minutes=result.booked_minutes - sum(round(i.minutes) for i in result.new_blocks),
            shortfall_reason=None,
        )
    free_minutes = None
    if spec.defense == defense.FLEXIBLE:
        taken = [Interval(b.start, b.end) for b in busy if not b.all_day] + own_busy
        free_minutes = defense.free_minutes_left(
            spec, week, zone, plan_working_hours(spec, user), taken, now
        )
    ordinals = [row.ordinal for row in rows] + [ordinal for _, ordinal in adopted]
    return WeekAssessment(
        plan=plan,
        week=week,
        kept=kept,
        lost=lost,
        adopted=adopted,
        moved=moved,
        result=result,
        target=target,
        next_ordinal=max(ordinals, default=-1) + 1,
        time_left=allowed_time_left(spec, user, week, now),
        target_note=reduced.explanation(),
        now=now,
        free_minutes=free_minutes,
    )


def apply_assessment(
    session: Session,
    assessment: WeekAssessment,
    connectors: ConnectorFor,
    checkpoint: Callable[[], None] | None = None,
    titles: growth_titles.Titles | None = None,
) -> BookingReport:
    """Write what the assessment decided: rows for what exists, provider events for what not.

    `checkpoint` (the task passes `session.commit`) runs before the provider writes and after
    the new blocks are recorded, so no database lock is held while a provider answers. The new
    blocks go to the provider together (`create_blocks`, batched where the provider can); a
    crash loses at most the rows of that one write, whose blocks the next run adopts by tag.
    """
    save = checkpoint or session.flush
    plan, week = assessment.plan, assessment.week
    spec = plan_spec(plan)
    newly_lost = [row for row in assessment.lost if row.state != BlockState.LOST]
    for row in newly_lost:
        row.state = BlockState.LOST
        outbox.record(
            session,
            plan.user_id,
            "block.lost",
            {
                "plan_id": plan.id,
                "week": str(week),
                "start": row.start.isoformat(),
                "end": row.end.isoformat(),
                "message": "A growth block was removed from your calendar; "
                "it will not be re-booked this week.",
            },
            dedupe_key=f"block.lost:{row.slot_key}",
        )
    for row, event in assessment.moved:
        row.start, row.end = event.start, event.end
        row.provider_event_id = event.id

    created: list[str] = []
    adopted: list[str] = []
    if assessment.target is not None:
        account, calendar = assessment.target
        for event, ordinal in assessment.adopted:
            session.add(block_row(plan, week, ordinal, calendar, event, spec.defense))
            adopted.append(event.tag.slot_key if event.tag else "")
        save()
        if assessment.result.new_blocks:
            connector = connectors(account)
            wanted = [
                Wanted(
                    assessment.next_ordinal + offset,
                    interval,
                    busy=assessment.now is None
                    or defense.busy_at_booking(spec, interval.start, assessment.now),
                )
                for offset, interval in enumerate(assessment.result.new_blocks)
            ]
            for ordinal, event in create_blocks(
                session, plan, week, spec, calendar, connector, wanted, titles
            ):
                session.add(block_row(plan, week, ordinal, calendar, event, spec.defense))
                created.append(slot_key(plan.id, week, ordinal))
            save()

    reason = assessment.result.shortfall_reason
    booked = assessment.result.booked_minutes
    # A week whose rest had no allowed day (a plan made on a Sunday) is no missed target.
    notify_shortfall = reason is not None and assessment.time_left
    if assessment.target is None and assessment.result.new_blocks:
        booked -= sum(round(i.minutes) for i in assessment.result.new_blocks)
        reason = "No calendar is chosen as the target for growth blocks; connect one first."
        # Not a missed target but a setup step; the dashboard says so, no notification spam.
        notify_shortfall = False
    if notify_shortfall:
        outbox.record(
            session,
            plan.user_id,
            "plan.target_missed",
            {
                "plan_id": plan.id,
                "week": str(week),
                "target_minutes": assessment.result.target_minutes,
                "booked_minutes": booked,
                "message": reason,
            },
            dedupe_key=f"plan.target_missed:{plan.id}:{week}",
        )
    return BookingReport(
        plan_id=plan.id,
        week=str(week),
        created=created,
        kept=[row.slot_key for row in assessment.kept],
        lost=[row.slot_key for row in assessment.lost],
        adopted=adopted,
        booked_minutes=booked,
        target_minutes=assessment.result.target_minutes,
        shortfall_reason=reason,
        target_note=assessment.target_note,
    )


@dataclass(frozen=True)
class Wanted:
    """A block to create: its ordinal in the week, its time, and whether it starts busy."""

    ordinal: int
    interval: Interval
    busy: bool = True


def create_blocks(
    session: Session,
    plan: Plan,
    week: IsoWeek,
    spec: PlanSpec,
    calendar: Calendar,
    connector: CalendarConnector,
    wanted: list[Wanted],
    titles: growth_titles.Titles | None,
    *,
    pinned: bool = False,
) -> list[tuple[int, Event]]:
    """Create the week's new blocks on one calendar in as few provider calls as it allows
    (`create_blocks`: Google and Graph batch them); the (ordinal, event) of each created.

    Blocks the provider refused are audited and left out; when any was refused, the caller
    gets the created ones recorded first and then the refusal raised (the job retries, and
    the retry books only what is still missing: the rest is adopted by its slot key).
    """
    locked = spec.defense == defense.LOCKED
    auto = spec.auto_decline
    if locked and auto == "declineNone":
        auto = "declineOnlyNewConflictingInvitations"
    specs: list[BlockSpec] = []
    labels: list[str] = []
    for item in wanted:
        # a free block is never focus time (always busy at the provider); a locked one always
        # asks for it, with the provider declining new conflicting invites itself
        focus = (spec.focus_time or locked) and item.busy and not calendar.focus_time_unsupported
        # Growth hook: the title names the block's current milestone (app/services/growth).
        title, description = growth_titles.label_for(
            session, plan, spec, item.interval.start, titles
        )
        labels.append(title)
        specs.append(
            BlockSpec(
                tag=BlockTag(plan_id=str(plan.id), slot_key=slot_key(plan.id, week, item.ordinal)),
                title=title,
                start=item.interval.start,
                end=item.interval.end,
                description=description,
                focus_time=focus,
                auto_decline=auto if focus else None,
                busy=item.busy,
            )
        )
    for _ in specs:
        # before the write: the provider may announce it before its answer reaches us
        channel_cache.expect_echo(calendar.id)
    results = connector.create_blocks(calendar.provider_calendar_id, specs)
    if any(b.focus_time for b in specs) and (
        calendar.provider_calendar_id in connector.focus_time_unsupported
    ):
        calendar.focus_time_unsupported = True  # remembered, so later blocks do not retry
    done: list[tuple[int, Event]] = []
    refused: list[ConnectorError] = []
    for item, block, title, result in zip(wanted, specs, labels, results, strict=True):
        key = block.tag.slot_key
        if isinstance(result, ConnectorError):
            refused.append(result)
            audit.record_write(
                session,
                user_id=plan.user_id,
                calendar=calendar,
                action="create_block",
                outcome="error",
                slot_key=key,
                detail={"error": type(result).__name__, "start": item.interval.start.isoformat()},
            )
            continue
        growth_titles.remember(session, plan, key, title, titles)
        audit.record_write(
            session,
            user_id=plan.user_id,
            calendar=calendar,
            action="create_block",
            outcome="ok",
            provider_event_id=result.id,
            slot_key=key,
            detail={"start": result.start.isoformat(), "end": result.end.isoformat()},
        )
        done.append((item.ordinal, result))
    if refused:
        for ordinal, event in done:
            session.add(
                block_row(plan, week, ordinal, calendar, event, spec.defense, pinned=pinned)
            )
        session.flush()
        raise _worst(refused)
    return done


def _worst(errors: list[ConnectorError]) -> ConnectorError:
    """The refusal to surface: a lost grant first, then throttling (its longest wait)."""
    for error in errors:
        if isinstance(error, ReauthRequired):
            return error
    limited = [e for e in errors if isinstance(e, RateLimited)]
    if limited:
        return max(limited, key=lambda e: e.retry_after or 0.0)
    return errors[0]


def block_row(
    plan: Plan,
    week: IsoWeek,
    ordinal: int,
    calendar: Calendar,
    event: Event,
    level: str,
    pinned: bool = False,
) -> Block:
    """The row of a block just created at the provider as `event`."""
    return Block(
        level=level,
        busy=event.busy,
        pinned=pinned,
        plan_id=plan.id,
        calendar_id=calendar.id,
        week=str(week),
        ordinal=ordinal,
        slot_key=slot_key(plan.id, week, ordinal),
        provider_event_id=event.id,
        start=event.start,
        end=event.end,
        state=BlockState.BOOKED,
    )


def book_week(
    session: Session,
    plan: Plan,
    week: IsoWeek,
    now: datetime,
    connectors: ConnectorFor,
    checkpoint: Callable[[], None] | None = None,
    preloaded: Preloaded | None = None,
) -> BookingReport:
    """Reconcile one week of one plan with the calendars (idempotent)."""
    assessment = assess_week(session, plan, week, now, connectors, preloaded)
    titles = preloaded.titles if preloaded is not None else None
    titles = titles or growth_titles.Titles.load(session, plan)
    report = apply_assessment(session, assessment, connectors, checkpoint, titles)
    if plan_spec(plan).defense == defense.FLEXIBLE:
        # the switch free -> busy is part of booking: by time, or squeezed by the week
        rows = session.scalars(
            select(Block).where(Block.plan_id == plan.id, Block.week == str(week))
        ).all()
        defense_service.harden(
            session,
            plan,
            rows,
            now,
            connectors,
            free_minutes=assessment.free_minutes,
            titles=titles,
            checkpoint=checkpoint,
        )
    # Growth hook: kept blocks follow milestone changes (a renamed or finished milestone).
    growth_titles.refresh(
        session,
        plan,
        now,
        connectors,
        week=str(week),
        titles=titles,
        blocks=preloaded.rows if preloaded is not None else None,
    )
    if assessment.target is None:
        outcome = "no_target"
    elif report.shortfall_reason:
        outcome = "short"
    else:
        outcome = "booked"
    record_run(
        session,
        plan.id,
        week,
        now,
        outcome,
        reason=report.shortfall_reason or "",
        booked=report.booked_minutes,
        target=report.target_minutes,
        created=len(report.created),
        run=preloaded.run if preloaded is not None else None,
        looked_up=preloaded is not None,
    )
    return report


def record_run(
    session: Session,
    plan_id: int,
    week: IsoWeek,
    now: datetime,
    outcome: str,
    *,
    reason: str = "",
    booked: int = 0,
    target: int = 0,
    created: int = 0,
    run: BookingRun | None = None,
    looked_up: bool = False,
) -> None:
    """Remember how the last booking of this plan and week went (the week view explains it).

    ``looked_up``: the caller read the plan's run of the week already (``run``, or None).
    """
    if not looked_up:
        run = session.scalars(
            select(BookingRun).where(BookingRun.plan_id == plan_id, BookingRun.week == str(week))
        ).first()
    if run is None:
        run = BookingRun(plan_id=plan_id, week=str(week))
        session.add(run)
    run.ran_at, run.outcome, run.reason = now, outcome, reason[:2000]
    run.booked_minutes, run.target_minutes, run.created = booked, target, created
    if not looked_up:
        session.flush()  # a batch writes its runs together at its commit


def horizon_weeks(spec: PlanSpec, current: IsoWeek) -> list[IsoWeek]:
    """This week (its remainder) plus `horizon_weeks` following ones."""
    return [current.plus(n) for n in range(spec.horizon_weeks + 1)]


@dataclass(frozen=True)
class Preview:
    """What booking would leave on the calendar for a week, and why it falls short if it does."""

    week: str
    kept: list[Interval]
    new: list[Interval]
    target_minutes: int
    booked_minutes: int
    shortfall_reason: str | None
    target_note: str = ""


def preview_week(
    session: Session, plan: Plan, week: IsoWeek, now: datetime, connectors: ConnectorFor
) -> Preview:
    """Dry run of `book_week`: reads the calendars, writes nothing."""
    assessment = assess_week(session, plan, week, now, connectors)
    moved = {row.slot_key: event for row, event in assessment.moved}
    kept = [
        Interval(moved[row.slot_key].start, moved[row.slot_key].end)
        if row.slot_key in moved
        else Interval(row.start, row.end)
        for row in assessment.kept
    ]
    kept += [Interval(event.start, event.end) for event, _ in assessment.adopted]
    result = assessment.result
    return Preview(
        week=str(week),
        kept=sorted(kept, key=lambda i: i.start),
        new=list(result.new_blocks),
        target_minutes=result.target_minutes,
        booked_minutes=result.booked_minutes,
        shortfall_reason=result.shortfall_reason,
        target_note=assessment.target_note,
    )
