"""The boundary policy document (DESIGN §7): ordered rules, guardrails, and presets.

Every model forbids unknown keys, and every check raises from the field it is about, so a
mistake surfaces as a 422 whose location names the rule index and field, e.g.
``("rules", 1, "grace_hours")``.
"""

from __future__ import annotations

import string
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from app.domain.patterns import PatternError, compile_pattern
from app.domain.time import Weekday

Action = Literal["decline", "decline_after", "move_block", "flag", "allow"]
Response = Literal["needsAction", "tentative", "accepted"]

# Actions that send a "no" to the organizer; the guardrails only ever weaken these.
DECLINING: frozenset[str] = frozenset({"decline", "decline_after"})
PLACEHOLDERS: frozenset[str] = frozenset({"alternatives", "title", "organizer"})
DEFAULT_DECLINE_MESSAGE = (
    "This time is reserved for focused growth work. Could one of these work instead? {alternatives}"
)
MAX_GRACE_HOURS = 168.0

RuleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
_Entry = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
_FROZEN = ConfigDict(extra="forbid", frozen=True)


def _nonempty(value: list[str] | None, what: str) -> None:
    # an empty list would silently match nothing, which is never what someone meant
    if value is not None and not value:
        raise ValueError(f"name at least one {what}, or leave the matcher out")


class Match(BaseModel):
    """The ``when`` of a rule: every matcher given must hold; no matchers matches everything."""

    model_config = _FROZEN

    organizer_in: list[_Entry] | None = None
    external: bool | None = None
    attendees_at_least: int | None = Field(default=None, ge=0, le=100_000)
    attendees_at_most: int | None = Field(default=None, ge=0, le=100_000)
    title_matches: str | None = Field(default=None, min_length=1, max_length=200)
    starts_within_hours: float | None = Field(default=None, gt=0, le=24 * 90)
    overlap_minutes_at_least: int | None = Field(default=None, ge=1, le=24 * 60)
    recurring: bool | None = None
    response: list[Response] | None = None
    calendar: list[_Entry] | None = None
    weekday: list[Weekday] | None = None

    @field_validator("organizer_in")
    @classmethod
    def _emails_or_domains(cls, value: list[str] | None) -> list[str] | None:
        _nonempty(value, "email or @domain")
        if value is None:
            return None
        out: list[str] = []
        for entry in value:
            lowered = entry.lower()
            local, at, domain = lowered.rpartition("@")
            # "@corp.example" is a whole domain; anything else must be a full address
            if not at or not domain or " " in lowered:
                raise ValueError(f"{entry!r} is neither an email nor an @domain")
            if local and "@" in local:
                raise ValueError(f"{entry!r} has more than one @")
            out.append(lowered)
        return out

    @field_validator("attendees_at_most")
    @classmethod
    def _range_not_empty(cls, value: int | None, info: ValidationInfo) -> int | None:
        least = info.data.get("attendees_at_least")
        if value is not None and least is not None and value < least:
            raise ValueError(f"must be at least attendees_at_least ({least})")
        return value

    @field_validator("title_matches")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_pattern(value)
            except PatternError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("response", "calendar", "weekday")
    @classmethod
    def _lists_not_empty(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        _nonempty(value, "value")
        return value


class Rule(BaseModel):
    """``when`` → ``then``; ``grace_hours`` is given exactly for ``decline_after``."""

    model_config = _FROZEN

    name: RuleName
    when: Match = Field(default_factory=Match)
    then: Action
    # validate_default: a missing grace_hours on decline_after must be an error at this field
    grace_hours: float | None = Field(default=None, gt=0, le=MAX_GRACE_HOURS, validate_default=True)

    @field_validator("grace_hours")
    @classmethod
    def _grace_iff_decline_after(cls, value: float | None, info: ValidationInfo) -> float | None:
        then = info.data.get("then")
        if then is None:  # `then` itself was invalid; that error is reported already
            return value
        if then == "decline_after" and value is None:
            raise ValueError("required when then is 'decline_after' (hours before declining)")
        if then != "decline_after" and value is not None:
            raise ValueError(f"only allowed when then is 'decline_after', not {then!r}")
        return value


class Guardrails(BaseModel):
    """Limits that hold whatever the rules say."""

    model_config = _FROZEN

    max_declines_per_week: int = Field(default=5, ge=0, le=100)
    never_decline_accepted: bool = True
    dry_run: bool = False


def placeholders(template: str) -> list[str]:
    """The ``{name}`` fields of a str.format template; ValueError when it is malformed."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{exc} (write {{{{ and }}}} for literal braces)") from None
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if spec or conversion:
            raise ValueError(f"placeholder {{{field}}} must not carry a format spec or !conversion")
        names.append(field)
    return names


class PolicySpec(BaseModel):
    """A boundary policy: the first matching rule decides, else ``default``."""

    model_config = _FROZEN

    default: Action = "flag"
    rules: list[Rule] = Field(default_factory=list, max_length=100)
    guardrails: Guardrails = Field(default_factory=Guardrails)
    decline_message: str = Field(default=DEFAULT_DECLINE_MESSAGE, min_length=1, max_length=2000)
    default_grace_hours: float = Field(default=4.0, gt=0, le=MAX_GRACE_HOURS)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, value: list[Rule]) -> list[Rule]:
        seen: dict[str, int] = {}
        for index, rule in enumerate(value):
            key = rule.name.casefold()
            if key in seen:
                raise ValueError(
                    f"rule names must be unique: rules {seen[key]} and {index} "
                    f"are both called {rule.name!r}"
                )
            seen[key] = index
        return value

    @field_validator("decline_message")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        names = placeholders(value)
        unknown = [name for name in names if name not in PLACEHOLDERS]
        if unknown:
            allowed = ", ".join(f"{{{name}}}" for name in sorted(PLACEHOLDERS))
            bad = ", ".join(f"{{{name}}}" for name in unknown)
            raise ValueError(f"unknown placeholder {bad}; allowed: {allowed}")
        return value

    def grace_for(self, rule: Rule | None) -> float:
        """Hours a ``decline_after`` waits: the rule's own, else the policy default."""
        if rule is not None and rule.grace_hours is not None:
            return rule.grace_hours
        return self.default_grace_hours


# Every preset flags short-notice invites first: a decline hours before a meeting is the
# one colleagues notice most (market research §3.1, §4.8).
_SHORT_NOTICE = {"name": "short notice", "when": {"starts_within_hours": 24}, "then": "flag"}

PRESETS: dict[str, PolicySpec] = {
    # Never says no for the person: every conflict is a notification they act on.
    "gentle": PolicySpec.model_validate({"default": "flag", "rules": [_SHORT_NOTICE]}),
    # The default for new plans: only large meetings get a pending decline the person can stop.
    "balanced": PolicySpec.model_validate(
        {
            "default": "flag",
            "rules": [
                _SHORT_NOTICE,
                # before "large meetings": a decline sent outside the company costs the most
                {"name": "external organizer", "when": {"external": True}, "then": "flag"},
                {
                    "name": "large meetings",
                    "when": {"attendees_at_least": 8},
                    "then": "decline_after",
                    "grace_hours": 4,
                },
            ],
        }
    ),
    # Declines by default, but still never short notice, and recurring series get a grace period.
    "strict": PolicySpec.model_validate(
        {
            "default": "decline",
            "rules": [
                _SHORT_NOTICE,
                {
                    "name": "recurring series",
                    "when": {"recurring": True},
                    "then": "decline_after",
                    "grace_hours": 2,
                },
            ],
        }
    ),
}
DEFAULT_PRESET = "balanced"


def preset(name: str) -> PolicySpec:
    """A copy of a named preset; KeyError names the known ones."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    return PRESETS[name].model_copy(deep=True)
