"""The quarter as evidence to share: Markdown and PDF, with the sections the person chose.

Written for a 1:1 with a manager: the goal, milestones, outcomes and hours. Nothing is sent
anywhere; the person downloads the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.domain.time import IsoWeek
from app.services.growth.review import PROMPTS, QuarterReview

SECTIONS: dict[str, str] = {
    "goal": "Goal",
    "hours": "Hours",
    "milestones": "Milestones",
    "outcomes": "Log and outcomes",
    "lost": "Time lost",
    "reflection": "Reflection",
}
# A Unicode font where the system has one; otherwise the PDF core font (Latin-1 only).
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|!])")
_LATIN1_FALLBACK = str.maketrans(
    {"\u2014": "-", "\u2013": "-", "\u2026": "...", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
)


def chosen(sections: Iterable[str] | None) -> list[str]:
    """The sections asked for, in the document's order; all of them when none were named."""
    wanted = set(sections or SECTIONS)
    return [key for key in SECTIONS if key in wanted]


def _hours(minutes: float) -> str:
    return f"{minutes / 60:.1f} h"


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _blocks(review: QuarterReview, sections: list[str]) -> list[tuple[str, list[str]]]:
    """(heading, lines) per chosen section: the shared outline of both formats."""
    out: list[tuple[str, list[str]]] = []
    for key in sections:
        lines: list[str] = []
        if key == "goal":
            lines.append(review.goal)
            if review.goal_why:
                lines.append(f"Why: {review.goal_why}")
            if review.goal_by:
                lines.append(f"By: {review.goal_by.isoformat()}")
        elif key == "hours":
            lines.append(
                f"Kept {_hours(review.kept_minutes)} of growth blocks against a target of "
                f"{_hours(review.target_minutes)} over {review.weeks} weeks."
            )
            lines += [
                f"{IsoWeek.parse(week).label(with_year=True)}: {note}."
                for week, note in review.reduced_weeks
            ]
            base = review.baseline_weekly_growth_minutes
            trend = f"Growth time per week: {_hours(review.weekly_growth_minutes)}"
            if base is not None:
                trend += f" (before GrowthGuard: {_hours(base)}; trend: {review.trend})"
            lines.append(trend + ".")
        elif key == "milestones":
            lines += [
                f"{m.title} — due {m.due.isoformat()}: {m.status}"
                + (f" (done {m.done_on.isoformat()})" if m.done_on else "")
                for m in review.milestones
            ] or ["No milestones this quarter."]
        elif key == "outcomes":
            lines += [
                f"{e['day']}: {e['text']}" + (f" — outcome: {e['outcome']}" if e["outcome"] else "")
                for e in review.entries
            ] or ["No log entries this quarter."]
        elif key == "lost":
            lines.append(f"{review.lost_blocks} blocks lost ({_hours(review.lost_minutes)}).")
            lines += [f"{t.organizer} (rule: {t.rule}): {t.blocks}" for t in review.lost_to]
        elif key == "reflection":
            lines += [
                f"{question} {review.answers.get(name) or '(not answered)'}"
                for name, question in PROMPTS
            ]
        out.append((SECTIONS[key], lines))
    return out


def markdown(review: QuarterReview, sections: Iterable[str] | None = None) -> str:
    """The quarter as Markdown (user text escaped, so it cannot add structure)."""
    parts = [f"# Growth review {review.quarter}", ""]
    parts.append(f"{review.first.isoformat()} to {review.last.isoformat()}")
    for heading, lines in _blocks(review, chosen(sections)):
        parts += ["", f"## {heading}", ""]
        parts += [f"- {_md(line)}" for line in lines]
    return "\n".join(parts) + "\n"


def _font(pdf: FPDF, candidates: Iterable[Path]) -> bool:
    """Use a Unicode font when one is installed; answers whether it did."""
    for path in candidates:
        if path.is_file():
            pdf.add_font("body", "", str(path))
            return True
    return False


def pdf(
    review: QuarterReview,
    sections: Iterable[str] | None = None,
    fonts: Iterable[Path] = FONT_CANDIDATES,
) -> bytes:
    """The quarter as a PDF document (fpdf2); ``fonts``: Unicode fonts to try, in order."""
    document = FPDF(format="A4")
    document.set_title(f"Growth review {review.quarter}")
    document.set_creator("GrowthGuard")
    unicode_font = _font(document, fonts)
    family = "body" if unicode_font else "helvetica"

    def text(value: str) -> str:
        if unicode_font:
            return value
        return value.translate(_LATIN1_FALLBACK).encode("latin-1", "replace").decode("latin-1")

    def line(height: float, value: str) -> None:
        # Back to the left margin on the next line (fpdf2 otherwise continues to the right).
        document.multi_cell(document.epw, height, text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    document.add_page()
    document.set_font(family, size=18)
    line(10, f"Growth review {review.quarter}")
    document.set_font(family, size=10)
    line(6, f"{review.first.isoformat()} to {review.last.isoformat()}")
    for heading, lines in _blocks(review, chosen(sections)):
        document.ln(4)
        document.set_font(family, size=14)
        line(8, heading)
        document.set_font(family, size=11)
        for entry in lines:
            line(6, f"\u2022 {entry}" if unicode_font else f"- {entry}")
    return bytes(document.output())
