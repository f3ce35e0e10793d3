"""Which other events count as growth: tag, organizer, title words, calendar, the person's mark."""

from __future__ import annotations

from app.domain.growth_rules import GrowthRules, counts_as_growth, rule_matched

RULES = GrowthRules.of(
    organizers=[" Mentor@Corp.example "], title_words=["Mentoring", ""], calendars=["Learning"]
)


def matched(title: str, organizer: str | None = None, calendar: str = "Work") -> str | None:
    return rule_matched(RULES, title=title, organizer=organizer, calendar=calendar)


def test_rules_are_normalised() -> None:
    assert RULES.organizers == ("mentor@corp.example",)
    assert RULES.title_words == ("mentoring",)


def test_each_rule_matches_on_its_own() -> None:
    assert matched("Reading #GROWTH") == "tag"
    assert matched("1:1", organizer="mentor@corp.example") == "organizer"
    assert matched("Peer mentoring, round 2") == "title"
    assert matched("Course", calendar="learning") == "calendar"
    assert matched("Team sync", organizer="boss@corp.example") is None


def test_title_words_match_whole_words_only() -> None:
    assert matched("Mentorings") is None
    assert matched("tormentoring") is None


def test_the_mark_wins_either_way() -> None:
    assert not counts_as_growth(RULES, title="#growth", organizer=None, calendar="", mark=False)
    assert counts_as_growth(RULES, title="Sync", organizer=None, calendar="", mark=True) is True
    assert counts_as_growth(RULES, title="Sync", organizer=None, calendar="") is False


def test_no_tag_means_no_tag_rule() -> None:
    rules = GrowthRules.of(keyword="")
    assert rule_matched(rules, title="#growth", organizer=None, calendar="") is None
