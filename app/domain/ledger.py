"""The growth ledger (DESIGN §9): per plan and week, what was booked, kept, moved and lost.

Pure: the service turns rows into the small input records below; time is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.domain.days_off import DayOff, WeekTarget
from app.domain.intervals import Interval, intersect, merge, subtract, total_minutes
from app.domain.time import IsoWeek, TimeRange, Weekday, local_interval, weekday_of

DEFAULT_GROWTH_KEYWORD = "#growth"
ACTIONS: tuple[str, ...] = ("decline", "decline_after", "move_block", "flag", "allow")
WEEKS_PER_YEAR = 52


@dataclass(frozen=True, slots=True)
class BlockFact:
    """One growth block of the week: where it is now and what became of it."""

    start: datetime
    end: datetime
    lost: bool = False
    moved: bool = False  # GrowthGuard moved it (a carried-out move_block decision)

    @property
    def minutes(self) -> int:
        return round((self.end - self.start).total_seconds() / 60)


@dataclass(frozen=True, slots=True)
class EventFact:
    """A calendar event as far as reports care (blocks excluded by ``is_block``)."""

    title: str
    start: datetime
    end: datetime
    busy: bool = True
    all_day: bool = False
    cancelled: bool = False
    declined: bool = False
    is_block: bool = False
    event_type: str = "default"
    # Decided by the person's growth rules and marks (app/domain/growth_rules.py); None: the
    # keyword alone decides.
    growth: bool | None = None


@dataclass(frozen=True, slots=True)
class WeekInput:
    """Everything the ledger needs for one plan and one week."""

    week: IsoWeek
    target_minutes: int
    blocks: tuple[BlockFact, ...] = ()
    events: tuple[EventFact, ...] = ()
    decisions: tuple[str, ...] = ()  # the action of each decided conflict on these blocks
    # The target after days off (app/domain/days_off.py); None: ``target_minutes`` stands.
    reduced: WeekTarget | None = None


@dataclass(frozen=True, slots=True)
class TimeSplit:
    """Working time of one week split into meeting, growth and free minutes."""

    working_minutes: int
    meeting_minutes: int
    growth_minutes: int

    @property
    def free_minutes(self) -> int:
        return max(0, self.working_minutes - self.meeting_minutes - self.growth_minutes)


@dataclass(frozen=True, slots=True)
class WeekLedger:
    """One row of the weekly report."""

    week: str
    complete: bool
    target_minutes: int
    booked_minutes: int
    kept_minutes: int
    moved_minutes: int  # part of kept: blocks GrowthGuard moved rather than gave up
    lost_minutes: int
    tagged_minutes: int  # the person's own #growth events, inside working hours
    working_minutes: int
    growth_minutes: int
    meeting_minutes: int
    growth_ratio: float
    meeting_ratio: float
    on_target: bool
    conflicts: Mapping[str, int] = field(default_factory=dict)
    before_plan: bool = False  # the person had no plan yet: nothing to count, nothing missed
    base_target_minutes: int = 0  # the plan's target before days off
    away: bool = False  # every working day was off: no target, the streak skips the week
    target_note: str = ""  # why the target was reduced, e.g. "2 days of leave: target 4 h → 2.4 h"
    days_off: tuple[DayOff, ...] = ()


def is_tagged_growth(event: EventFact, keyword: str = DEFAULT_GROWTH_KEYWORD) -> bool:
    """An event the person marked as growth time themselves."""
    if event.is_block or event.all_day or event.cancelled or event.declined:
        return False
    if event.growth is not None:
        return event.growth
    return bool(keyword) and keyword.casefold() in event.title.casefold()


def is_meeting(event: EventFact, keyword: str = DEFAULT_GROWTH_KEYWORD) -> bool:
    """Busy time spent on others: a timed, busy, non-block default event not tagged as growth."""
    return (
        event.busy
        and event.event_type == "default"
        and not (event.is_block or event.all_day or event.cancelled or event.declined)
        and not is_tagged_growth(event, keyword)
    )


def working_intervals(
    week: IsoWeek, zone: ZoneInfo, hours: Mapping[Weekday, Sequence[TimeRange]]
) -> list[Interval]:
    """The week's working hours as absolute instants (DST-correct), merged."""
    out: list[Interval] = []
    for day in week.days():
        out.extend(_day_hours(day, zone, hours.get(weekday_of(day), ())))
    return merge(out)


def _day_hours(day: date, zone: ZoneInfo, ranges: Iterable[TimeRange]) -> list[Interval]:
    found = (local_interval(day, rng, zone) for rng in ranges)
    return [i for i in found if i is not None]


def split_time(
    working: Sequence[Interval], meetings: Iterable[Interval], growth: Iterable[Interval]
) -> TimeSplit:
    """Meeting and growth minutes inside working hours, each instant counted once.

    Growth time a meeting overlaps counts as meeting time: the person was most likely there.
    """
    meeting = intersect(meetings, working)
    grown = subtract(intersect(growth, working), meeting)
    return TimeSplit(
        working_minutes=round(total_minutes(working)),
        meeting_minutes=round(total_minutes(meeting)),
        growth_minutes=round(total_minutes(grown)),
    )


def event_split(
    week: IsoWeek,
    zone: ZoneInfo,
    hours: Mapping[Weekday, Sequence[TimeRange]],
    events: Iterable[EventFact],
    keyword: str = DEFAULT_GROWTH_KEYWORD,
) -> TimeSplit:
    """A week's split from calendar events alone (the baseline): blocks and tagged events grow."""
    meetings: list[Interval] = []
    growth: list[Interval] = []
    for event in events:
        if (event.is_block and not (event.cancelled or event.declined)) or is_tagged_growth(
            event, keyword
        ):
            growth.append(Interval(event.start, event.end))
        elif is_meeting(event, keyword):
            meetings.append(Interval(event.start, event.end))
    return split_time(working_intervals(week, zone, hours), meetings, growth)


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole > 0 else 0.0


def week_ledger(
    data: WeekInput,
    zone: ZoneInfo,
    hours: Mapping[Weekday, Sequence[TimeRange]],
    now: datetime,
    keyword: str = DEFAULT_GROWTH_KEYWORD,
) -> WeekLedger:
    """The ledger row of one week."""
    kept = [b for b in data.blocks if not b.lost]
    working = working_intervals(data.week, zone, hours)
    tagged = [Interval(e.start, e.end) for e in data.events if is_tagged_growth(e, keyword)]
    meetings = [Interval(e.start, e.end) for e in data.events if is_meeting(e, keyword)]
    growth = [Interval(b.start, b.end) for b in kept] + tagged
    split = split_time(working, meetings, growth)
    conflicts = dict.fromkeys(ACTIONS, 0)
    for action in data.decisions:
        conflicts[action] = conflicts.get(action, 0) + 1
    kept_minutes = sum(b.minutes for b in kept)
    reduced = data.reduced
    target = data.target_minutes if reduced is None else reduced.minutes
    away = reduced is not None and reduced.away
    return WeekLedger(
        week=str(data.week),
        complete=data.week.end(zone) <= now,
        target_minutes=target,
        booked_minutes=sum(b.minutes for b in data.blocks),
        kept_minutes=kept_minutes,
        moved_minutes=sum(b.minutes for b in kept if b.moved),
        lost_minutes=sum(b.minutes for b in data.blocks if b.lost),
        tagged_minutes=round(total_minutes(intersect(tagged, working))),
        working_minutes=split.working_minutes,
        growth_minutes=split.growth_minutes,
        meeting_minutes=split.meeting_minutes,
        growth_ratio=_ratio(split.growth_minutes, split.working_minutes),
        meeting_ratio=_ratio(split.meeting_minutes, split.working_minutes),
        on_target=not away and kept_minutes >= target,
        conflicts=conflicts,
        base_target_minutes=data.target_minutes if reduced is None else reduced.base_minutes,
        away=away,
        target_note="" if reduced is None else reduced.explanation(),
        days_off=() if reduced is None else reduced.days_off,
    )


def last_complete_week(now: datetime, zone: ZoneInfo) -> IsoWeek:
    """The most recent week that has fully ended in ``zone``."""
    return IsoWeek.containing(now, zone).plus(-1)


def streak(on_target: Mapping[IsoWeek, bool | None], latest: IsoWeek) -> int:
    """Consecutive weeks on target ending with ``latest``; a missing week breaks the run.

    A week mapped to None (the person was away all week) neither breaks nor extends it.
    """
    count, week = 0, latest
    floor = min(on_target, default=latest)
    while week >= floor:
        state = on_target.get(week, False)
        if state is False:
            break
        if state:
            count += 1
        week = week.plus(-1)
    return count


def projection_hours(ytd_hours: float, elapsed_weeks: int) -> float | None:
    """Hours a year at this year's pace so far; None before a week has elapsed."""
    if elapsed_weeks <= 0:
        return None
    return round(ytd_hours / elapsed_weeks * WEEKS_PER_YEAR, 1)


def target_projection_hours(weekly_target_minutes: int) -> float:
    """What the weekly target adds up to over a year (2 x 120 min a week is about 200 h)."""
    return round(weekly_target_minutes * WEEKS_PER_YEAR / 60, 1)


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures that span weeks."""

    streak_weeks: int
    latest_complete_week: str
    ytd_hours: float
    elapsed_weeks: int
    projection_hours: float | None
    target_projection_hours: float


def summarize(
    rows: Iterable[WeekLedger], latest: IsoWeek, target_minutes: int, since: IsoWeek | None
) -> Summary:
    """Streak, year-to-date growth hours and projections from contiguous ledger rows.

    ``since`` is the plan's first week: a plan started mid-year is projected from its own
    pace, not diluted by the weeks before it existed.
    """
    by_week = {IsoWeek.parse(row.week): row for row in rows}
    run = streak(
        {w: None if r.away else r.on_target for w, r in by_week.items() if r.complete}, latest
    )
    first = IsoWeek(latest.year, 1)
    if since is not None and since > first:
        first = since
    elapsed = (latest.monday() - first.monday()).days // 7 + 1 if first <= latest else 0
    ytd = sum(r.growth_minutes for w, r in by_week.items() if first <= w <= latest)
    ytd_hours = round(ytd / 60, 1)
    return Summary(
        streak_weeks=run,
        latest_complete_week=str(latest),
        ytd_hours=ytd_hours,
        elapsed_weeks=elapsed,
        projection_hours=projection_hours(ytd / 60, elapsed),
        target_projection_hours=target_projection_hours(target_minutes),
    )


def hours_text(minutes: float) -> str:
    """ "4 h", "1.5 h", "0 h": short and unambiguous in a sentence."""
    hours = round(minutes / 60, 1)
    return f"{hours:g} h"


def _weeks_text(count: int) -> str:
    return "1 week" if count == 1 else f"{count} weeks"


def weekly_message(row: WeekLedger, streak_weeks: int) -> str:
    """The sentence of the weekly report notification."""
    if row.away:
        return (
            f"You were away last week ({row.target_note}); your streak waits for you: "
            f"{_weeks_text(streak_weeks)}."
        )
    note = f" ({row.target_note})" if row.target_note else ""
    share = round(100 * row.kept_minutes / row.target_minutes) if row.target_minutes else 0
    return (
        f"You kept {hours_text(row.kept_minutes)} of {hours_text(row.target_minutes)} "
        f"growth time last week ({share} %){note}. Streak: {_weeks_text(streak_weeks)}."
    )


def quarter_of(day: date) -> tuple[int, int]:
    """(year, quarter 1..4) of a local date."""
    return day.year, (day.month - 1) // 3 + 1


def previous_quarter(year: int, quarter: int) -> tuple[int, int]:
    return (year - 1, 4) if quarter == 1 else (year, quarter - 1)


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """First day of the quarter and first day of the next one."""
    first = date(year, 3 * quarter - 2, 1)
    nxt = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return first, nxt


def quarterly_message(year: int, quarter: int, kept_minutes: int, goals: Sequence[str]) -> str:
    """The sentence of the quarterly review reminder."""
    goal = f" toward “{goals[0]}”" if len(goals) == 1 else ""
    return (
        f"Q{quarter} {year} is over: you kept {hours_text(kept_minutes)} of growth time{goal}. "
        "Take ten minutes to revisit your goal: is it still the right one, and is the "
        "weekly target right for the next quarter?"
    )
