"""The quarter's Markdown: chosen sections only, the person's text unable to add structure."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.services.growth.export import FONT_CANDIDATES, chosen, markdown, pdf
from app.services.growth.review import LostTo, MilestoneLine, QuarterReview


def quarter() -> QuarterReview:
    return QuarterReview(
        quarter="2027-Q1",
        first=date(2027, 1, 1),
        last=date(2027, 3, 31),
        plan_id=1,
        goal="Lead *the* project",
        goal_why="",
        goal_by=date(2027, 6, 30),
        weeks=10,
        target_minutes=2400,
        kept_minutes=1800,
        growth_minutes=2100,
        weekly_growth_minutes=210.0,
        baseline_weekly_growth_minutes=60.0,
        lost_blocks=2,
        lost_minutes=240,
        milestones=[MilestoneLine(1, "Draft", date(2027, 2, 1), date(2027, 1, 30), "hit")],
        entries=[
            {"day": "2027-01-11", "text": "# not a heading\n[x](javascript:1)", "outcome": ""}
        ],
        lost_to=[LostTo("cto@corp.example", "big meetings", 2)],
        answers={"worked": "Mornings", "drained": "", "changes": ""},
    )


def test_sections_keep_the_document_order_and_default_to_all() -> None:
    assert chosen(["reflection", "goal"]) == ["goal", "reflection"]
    assert chosen(None) == ["goal", "hours", "milestones", "outcomes", "lost", "reflection"]


def test_markdown_has_the_chosen_sections_and_escapes_the_persons_text() -> None:
    text = markdown(quarter(), ["goal", "hours", "outcomes", "lost"])
    assert text.startswith("# Growth review 2027-Q1\n")
    assert "## Milestones" not in text and "## Reflection" not in text
    assert r"- Lead \*the\* project" in text
    assert "trend: up" in text and "30.0 h" in text
    assert r"- 2027-01-11: \# not a heading \[x\](javascript:1)" in text
    assert "cto@corp.example (rule: big meetings): 2" in text


@pytest.mark.parametrize("fonts", [(), FONT_CANDIDATES], ids=["core-font", "unicode-font"])
def test_the_pdf_reads_back_with_or_without_a_unicode_font(fonts: tuple[Path, ...]) -> None:
    review = quarter()
    review.answers["worked"] = "Zürich offsite — ✓ 日本"
    data = pdf(review, ["goal", "reflection"], fonts=fonts)
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "Lead *the* project" in text
    assert "Zürich offsite" in text  # Latin-1 survives the core font; the rest is replaced
