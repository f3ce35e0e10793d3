"""The pure decision: which policy rule fires for an invite, then the guardrails, then why.

Rules only propose an action. Every path ends in :func:`_guard`, the one place that enforces
what must hold whatever the rules say: the person's choice, never declining their own or
accepted events, the weekly cap, and dry run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from app.domain.intervals import Interval, intersect
from app.domain.patterns import title_matches
from app.domain.policy import DECLINING, Action, Match, PolicySpec, Rule
from app.domain.time import WEEKDAYS

WRITING: frozenset[str] = frozenset({"decline", "decline_after", "move_block"})
DRY_RUN_NOTE = "(dry run: nothing was changed)"
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SHORT_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_RESPONSES = {
    "needsAction": "still awaits your answer",
    "tentative": "has your tentative answer",
    "accepted": "is already accepted by you",
}
_EN_DASH = "\u2013"


def _aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")


@dataclass(frozen=True)
class Invite:
    """What we know about the event that overlaps a growth block."""

    title: str
    start: datetime
    end: datetime
    organizer_email: str | None
    self_is_organizer: bool
    self_response: str | None  # needsAction | tentative | accepted | declined | None
    attendee_count: int
    recurring: bool
    calendar: str  # the calendar's name
    calendar_id: str

    def __post_init__(self) -> None:
        _aware(self.start, "Invite.start")
        _aware(self.end, "Invite.end")
        if self.end < self.start:
            raise ValueError("Invite.end is before Invite.start")
        if self.attendee_count < 0:
            raise ValueError("Invite.attendee_count must not be negative")

    @property
    def interval(self) -> Interval:
        """The invite's time as an interval."""
        return Interval(self.start, self.end)


@dataclass(frozen=True)
class Context:
    """Everything besides the invite and the policy that a decision depends on."""

    now: datetime
    zone: ZoneInfo
    user_domains: frozenset[str]
    block: Interval  # the growth block the invite overlaps
    declines_this_week: int
    person_choice: Literal["keep", "decline"] | None = None
    # The block's defense (app/domain/defense.py): "flexible" while it is still shown free,
    # "firm", or "locked"; and whether the person pinned it (never moved then).
    block_level: str = "firm"
    block_pinned: bool = False

    def __post_init__(self) -> None:
        _aware(self.now, "Context.now")
        object.__setattr__(self, "user_domains", frozenset(d.lower() for d in self.user_domains))


@dataclass(frozen=True)
class Verdict:
    """The outcome for one conflict and a sentence a person understands."""

    action: Action
    rule: str | None
    explanation: str
    writes: bool  # carrying it out writes to the provider (never for flag/allow or dry run)
    due_at: datetime | None = None  # decline_after: when the decline happens
    dry_run: bool = False


# ---- matching --------------------------------------------------------------------------------


def _domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rpartition("@")[2].lower() or None


def overlap_minutes(invite: Invite, block: Interval) -> float:
    """Minutes of the invite that fall inside the block."""
    return sum(piece.minutes for piece in intersect([invite.interval], [block]))


def _organizer_listed(entries: list[str], email: str | None) -> bool:
    if not email:
        return False
    lowered = email.lower()
    domain = _domain(email)
    return any(lowered == e or (e.startswith("@") and e[1:] == domain) for e in entries)


def _external(email: str | None, domains: frozenset[str]) -> bool | None:
    domain = _domain(email)
    return None if domain is None else domain not in domains


def _check(field: str, when: Match, invite: Invite, ctx: Context) -> bool:
    """Whether matcher ``field`` (which is set on ``when``) holds."""
    if field == "organizer_in":
        return _organizer_listed(when.organizer_in or [], invite.organizer_email)
    if field == "external":
        # an unknown organizer is neither internal nor external: such a rule does not fire
        external = _external(invite.organizer_email, ctx.user_domains)
        return external is not None and external == when.external
    if field == "attendees_at_least":
        return invite.attendee_count >= (when.attendees_at_least or 0)
    if field == "attendees_at_most":
        return invite.attendee_count <= (when.attendees_at_most or 0)
    if field == "title_matches":
        return title_matches(when.title_matches or "", invite.title)
    if field == "starts_within_hours":
        # an invite that already started counts as short notice too
        hours = when.starts_within_hours or 0.0
        return invite.start - ctx.now <= timedelta(hours=hours)
    if field == "overlap_minutes_at_least":
        return overlap_minutes(invite, ctx.block) >= (when.overlap_minutes_at_least or 0)
    if field == "recurring":
        return invite.recurring == when.recurring
    if field == "response":
        return invite.self_response in (when.response or [])
    if field == "calendar":
        names = {c.casefold() for c in when.calendar or []}
        return invite.calendar.casefold() in names or invite.calendar_id.casefold() in names
    if field == "weekday":
        return _weekday(invite, ctx) in (when.weekday or [])
    raise AssertionError(f"unknown matcher {field}")  # pragma: no cover - fields are fixed


def _weekday(invite: Invite, ctx: Context) -> str:
    return WEEKDAYS[invite.start.astimezone(ctx.zone).weekday()]


def _set_matchers(when: Match) -> list[str]:
    # declaration order, so the explanation cites the first matcher the author wrote down
    return [name for name in Match.model_fields if getattr(when, name) is not None]


def matches(when: Match, invite: Invite, ctx: Context) -> bool:
    """True when every matcher given in ``when`` holds for the invite."""
    return all(_check(name, when, invite, ctx) for name in _set_matchers(when))


def first_match(policy: PolicySpec, invite: Invite, ctx: Context) -> Rule | None:
    """The first rule whose ``when`` holds, or None (the default applies)."""
    return next((rule for rule in policy.rules if matches(rule.when, invite, ctx)), None)


# ---- explanations ----------------------------------------------------------------------------


def _quote(title: str) -> str:
    text = " ".join(title.split()) or "(no title)"
    return f"'{text[:77]}...'" if len(text) > 80 else f"'{text}'"


def _duration(delta: timedelta) -> str:
    minutes = round(abs(delta.total_seconds()) / 60)
    if minutes < 60:
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    return _plural(round(minutes / 60, 1), "hour")


def _plural(count: float, word: str) -> str:
    return f"{count:g} {word}" + ("" if count == 1 else "s")


def _fact(field: str | None, invite: Invite, ctx: Context) -> str:
    """What is true of the invite, as a predicate: "has 12 attendees"."""
    if field in ("organizer_in", "external"):
        organizer = invite.organizer_email or "an unknown organizer"
        if field == "external":
            external = _external(invite.organizer_email, ctx.user_domains)
            where = "outside" if external else "inside"
            return f"is organized by {organizer}, {where} your domains"
        return f"is organized by {organizer}"
    if field in ("attendees_at_least", "attendees_at_most"):
        return f"has {_plural(invite.attendee_count, 'attendee')}"
    if field == "title_matches":
        return "has a title that matches the rule's pattern"
    if field == "starts_within_hours":
        delta = invite.start - ctx.now
        if delta < timedelta(0):
            return f"started {_duration(delta)} ago"
        return f"starts in {_duration(delta)}"
    if field == "recurring":
        return "is a recurring meeting" if invite.recurring else "is a one-off meeting"
    if field == "response":
        return _RESPONSES.get(invite.self_response or "", "has no answer from you")
    if field == "calendar":
        return f"is on your calendar '{invite.calendar}'"
    if field == "weekday":
        day = _DAY_NAMES[invite.start.astimezone(ctx.zone).weekday()]
        return f"is on a {day}"
    minutes = round(overlap_minutes(invite, ctx.block))
    return f"overlaps your growth block by {_plural(minutes, 'minute')}"


def _source(rule: Rule | None, policy: PolicySpec) -> str:
    if rule is None:
        return f"no rule matched; the default is {policy.default}"
    return f"rule '{rule.name}'"


def _sentence(action: Action, title: str, fact: str, source: str, grace: float) -> str:
    if action == "decline":
        return f"Declined: {title} {fact} ({source})."
    if action == "decline_after":
        return (
            f"Will decline {title} in {_plural(grace, 'hour')} unless you keep it: "
            f"it {fact} ({source})."
        )
    if action == "move_block":
        return f"Moving your growth block: {title} {fact} ({source})."
    if action == "flag":
        return f"Flagged: {title} {fact} ({source})."
    return f"Allowed: {title} {fact} ({source})."


# ---- the decision ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Proposal:
    action: Action
    rule: Rule | None
    fact: str
    by_person: bool = False
    locked: bool = False  # a flag the rules proposed, made a decline by a locked block


def _propose(invite: Invite, policy: PolicySpec, ctx: Context) -> _Proposal:
    if ctx.person_choice == "decline":
        return _Proposal("decline", None, "you chose to decline it", by_person=True)
    rule = first_match(policy, invite, ctx)
    if rule is None:
        return _lock(_Proposal(policy.default, None, _fact(None, invite, ctx)), ctx)
    fired = next(iter(_set_matchers(rule.when)), None)
    return _lock(_Proposal(rule.then, rule, _fact(fired, invite, ctx)), ctx)


def _lock(proposal: _Proposal, ctx: Context) -> _Proposal:
    """A locked block is defended: what the rules would only flag is declined (the
    guardrails still hold: own or accepted events and the weekly cap stay flags)."""
    if ctx.block_level == "locked" and proposal.action == "flag":
        return replace(proposal, action="decline", locked=True)
    return proposal


def _guard(proposal: _Proposal, invite: Invite, policy: PolicySpec, ctx: Context) -> Verdict:
    """Apply the invariants to what the rules (or the person) proposed; the only exit."""
    title = _quote(invite.title)
    name = proposal.rule.name if proposal.rule else None
    if proposal.by_person:
        would = "you chose to decline it"
    else:
        would = f"rule '{name}' would decline it" if name else "the default would decline it"
    action = proposal.action
    due_at: datetime | None = None
    grace = policy.grace_for(proposal.rule)
    if ctx.person_choice == "keep":
        # the person's choice is the reason, not whichever rule would have fired
        action, name, text = "allow", None, f"You chose to keep {title}."
    elif invite.self_response == "declined":
        action, name = "allow", None
        text = f"Allowed: you already declined {title}; nothing to do."
    elif ctx.block_level == "flexible" and action in WRITING and not proposal.by_person:
        # a flexible block is shown free on purpose: others may book over it
        action = "flag"
        text = (
            f"Flagged: your growth block is still flexible (shown as free), "
            f"so {title} is not declined ({would})."
        )
    elif action == "move_block" and ctx.block_pinned and not proposal.by_person:
        action = "flag"
        source = _source(proposal.rule, policy)
        text = f"Flagged: {title} {proposal.fact}, but you pinned the block here ({source})."
    elif action in DECLINING and invite.self_is_organizer:
        action, text = "flag", f"Flagged: you organize {title}, so it is never declined ({would})."
    elif (
        action in DECLINING
        and invite.self_response == "accepted"
        and policy.guardrails.never_decline_accepted
    ):
        action = "flag"
        text = f"Flagged: you already accepted {title}, so it is not declined ({would})."
    elif (
        action in DECLINING
        and not proposal.by_person
        and ctx.declines_this_week >= policy.guardrails.max_declines_per_week
    ):
        cap = policy.guardrails.max_declines_per_week
        action = "flag"
        text = (
            f"Flagged: {title} {proposal.fact}, but the weekly decline limit of {cap} "
            f"is reached ({_source(proposal.rule, policy)})."
        )
    elif proposal.by_person:
        text = f"Declined: you chose to decline {title}."
    else:
        text = _sentence(action, title, proposal.fact, _source(proposal.rule, policy), grace)
        if proposal.locked:
            text = f"{text} The block is locked, so a flag becomes a decline."
    if action == "decline_after":
        due_at = ctx.now + timedelta(hours=grace)
    dry_run = policy.guardrails.dry_run
    if dry_run:
        text = f"{text} {DRY_RUN_NOTE}"
    writes = action in WRITING and not dry_run
    return Verdict(action, name, text, writes, due_at, dry_run)


def decide(invite: Invite, policy: PolicySpec, ctx: Context) -> Verdict:
    """What to do about ``invite``: the first matching rule (else the default), guarded."""
    return _guard(_propose(invite, policy, ctx), invite, policy, ctx)


def fallback_flag(decision: Verdict, reason: str) -> Verdict:
    """Turn a decision that could not be carried out (e.g. no slot to move to) into a flag."""
    source = f" (rule '{decision.rule}')" if decision.rule else ""
    reason = reason.strip().rstrip(".") or "it could not be carried out"
    text = f"Flagged instead of {decision.action.replace('_', ' ')}: {reason}{source}."
    if decision.dry_run:
        text = f"{text} {DRY_RUN_NOTE}"
    return replace(decision, action="flag", explanation=text, writes=False, due_at=None)


# ---- the decline message ---------------------------------------------------------------------


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def _day(moment: datetime) -> str:
    return f"{_SHORT_DAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]}"


def format_slots(slots: list[Interval], zone: ZoneInfo) -> str:
    """Slots in ``zone``, e.g. "Tue 19 Jan 14:00-15:00, Wed 20 Jan 10:00-11:00 (Europe/Berlin)".

    The ranges use an en dash; "no other times this week" when there are none.
    """
    if not slots:
        return "no other times this week"
    parts = []
    for slot in slots:
        start, end = slot.start.astimezone(zone), slot.end.astimezone(zone)
        tail = _clock(end) if end.date() == start.date() else f"{_day(end)} {_clock(end)}"
        parts.append(f"{_day(start)} {_clock(start)}{_EN_DASH}{tail}")
    return f"{', '.join(parts)} ({zone.key})"


def render_decline_message(
    policy: PolicySpec, invite: Invite, alternatives: list[Interval], zone: ZoneInfo
) -> str:
    """The policy's decline message with {title}, {organizer} and {alternatives} filled in."""
    # placeholders were validated on the policy, so format() cannot meet an unknown field
    return policy.decline_message.format(
        title=" ".join(invite.title.split()) or "(no title)",
        organizer=invite.organizer_email or "the organizer",
        alternatives=format_slots(alternatives, zone),
    )
