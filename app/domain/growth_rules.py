"""Which calendar events count as growth besides the blocks: a tag, rules, the person's marks.

Pure. The same decision feeds the weekly ratio and the baseline, so both agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

DEFAULT_KEYWORD = "#growth"
_WORD_RE = re.compile(r"\w+")  # linear: one character class, no nesting
MAX_RULE_ITEMS = 50


def _casefolded(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({item.strip().casefold() for item in items if item.strip()}))


@dataclass(frozen=True, slots=True)
class GrowthRules:
    """The tag (empty: none) and rules; an event matching any of them counts as growth."""

    keyword: str = DEFAULT_KEYWORD
    organizers: tuple[str, ...] = field(default=())
    title_words: tuple[str, ...] = field(default=())
    calendars: tuple[str, ...] = field(default=())

    @classmethod
    def of(
        cls,
        keyword: str = DEFAULT_KEYWORD,
        organizers: Iterable[str] = (),
        title_words: Iterable[str] = (),
        calendars: Iterable[str] = (),
    ) -> GrowthRules:
        """Normalised: case-folded, trimmed, without blanks or repeats."""
        return cls(
            keyword=keyword.strip(),
            organizers=_casefolded(organizers),
            title_words=_casefolded(title_words),
            calendars=_casefolded(calendars),
        )


def rule_matched(
    rules: GrowthRules, *, title: str, organizer: str | None, calendar: str
) -> str | None:
    """Which rule makes the event growth (``tag``, ``organizer``, ``title``, ``calendar``)."""
    folded = title.casefold()
    if rules.keyword and rules.keyword.casefold() in folded:
        return "tag"
    if organizer and organizer.strip().casefold() in rules.organizers:
        return "organizer"
    if rules.title_words and set(_WORD_RE.findall(folded)) & set(rules.title_words):
        return "title"
    if calendar.strip().casefold() in rules.calendars:
        return "calendar"
    return None


def counts_as_growth(
    rules: GrowthRules,
    *,
    title: str,
    organizer: str | None,
    calendar: str,
    mark: bool | None = None,
) -> bool:
    """The person's mark when there is one, otherwise whether a rule matches."""
    if mark is not None:
        return mark
    return rule_matched(rules, title=title, organizer=organizer, calendar=calendar) is not None
