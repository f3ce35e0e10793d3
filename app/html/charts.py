"""Server-rendered, accessible SVG charts of the growth reports (no JavaScript)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from app.domain.ledger import WeekLedger, hours_text
from app.domain.time import IsoWeek
from app.html.words import week_label

# Dark fills on white: every colour has at least 4.5:1 contrast, so bars and their labels
# stay legible for low vision; the legend and text labels carry the meaning, not colour alone.
KEPT = "#1b5e20"
MOVED = "#0d47a1"
LOST = "#b3261e"
INK = "#1f1f1f"
GRID = "#6b6b6b"

_LEFT, _RIGHT, _TOP, _PLOT, _BOTTOM = 56, 16, 44, 160, 52
_SLOT, _BAR = 76, 40


def _scale_max(rows: Sequence[WeekLedger]) -> int:
    """A round number of hours (in minutes) above every bar and the target."""
    peak = max([r.booked_minutes for r in rows] + [r.target_minutes for r in rows] + [60])
    return math.ceil(peak * 1.1 / 60) * 60


def _week_label(week: str) -> str:
    """ "2027-W02" -> "11 Jan": the Monday a person would name the week by."""
    try:
        monday = IsoWeek.parse(week).monday()
    except ValueError:
        return week
    return f"{monday.day} {monday:%b}"


def _rect(x: float, y: float, height: float, fill: str) -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{_BAR}" height="{height:.1f}" fill="{fill}"/>'


def _text(x: float, y: float, content: str, *, size: int = 11, weight: str = "normal") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-weight="{weight}" '
        f'text-anchor="middle" fill="{INK}">{escape(content)}</text>'
    )


def _describe(row: WeekLedger) -> str:
    return (
        f"{week_label(row.week)}: kept {row.kept_minutes} min (moved {row.moved_minutes} min), "
        f"lost {row.lost_minutes} min, target {row.target_minutes} min, "
        f"growth ratio {round(row.growth_ratio * 100)} %"
    )


def growth_chart(
    rows: Sequence[WeekLedger], *, title: str = "Growth time per week", chart_id: str = "growth"
) -> Markup:
    """Stacked bars (kept, moved, lost minutes) per week, the weekly target as a dashed line.

    ``chart_id`` keeps the ids of title and description unique when a page shows several charts.
    """
    width = _LEFT + _RIGHT + _SLOT * max(len(rows), 1)
    height = _TOP + _PLOT + _BOTTOM
    top = _scale_max(rows)
    base = _TOP + _PLOT

    def y_of(minutes: float) -> float:
        return base - _PLOT * minutes / top

    summary = "; ".join(_describe(r) for r in rows) or "No weeks to show."
    cid = escape(chart_id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{cid}-title {cid}-desc" '
        f'font-family="system-ui, sans-serif">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">Minutes of growth time kept, moved and lost each week, '
        f"with the weekly target. {escape(summary)}</desc>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    # Legend: colour plus words.
    for i, (label, colour) in enumerate((("kept", KEPT), ("moved", MOVED), ("lost", LOST))):
        lx = _LEFT + i * 80
        parts.append(f'<rect x="{lx}" y="10" width="12" height="12" fill="{colour}"/>')
        parts.append(
            f'<text x="{lx + 16}" y="20" font-size="11" fill="{INK}">{escape(label)}</text>'
        )
    # Y axis: 0 and the top of the scale, in hours.
    parts.append(
        f'<line x1="{_LEFT - 4}" y1="{base}" x2="{width - _RIGHT}" y2="{base}" '
        f'stroke="{GRID}" stroke-width="1"/>'
    )
    for minutes in (0, top // 2, top):
        parts.append(
            f'<text x="{_LEFT - 8}" y="{y_of(minutes) + 4:.1f}" font-size="10" '
            f'text-anchor="end" fill="{INK}">{escape(hours_text(minutes))}</text>'
        )
    for i, row in enumerate(rows):
        x = _LEFT + i * _SLOT + (_SLOT - _BAR) / 2
        centre = x + _BAR / 2
        parts.append(f'<g class="week" aria-label="{escape(_describe(row))}">')
        stacked = 0
        for minutes, colour in (
            (row.kept_minutes - row.moved_minutes, KEPT),
            (row.moved_minutes, MOVED),
            (row.lost_minutes, LOST),
        ):
            if minutes > 0:
                parts.append(_rect(x, y_of(stacked + minutes), _PLOT * minutes / top, colour))
                stacked += minutes
        parts.append(_text(centre, y_of(stacked) - 4, hours_text(row.kept_minutes)))
        parts.append(_text(centre, base + 16, _week_label(row.week), weight="bold"))
        parts.append(_text(centre, base + 32, f"{round(row.growth_ratio * 100)} % growth"))
        parts.append("</g>")
    # The target may change over time; draw each week's target over its own slot.
    for i, row in enumerate(rows):
        x1, y = _LEFT + i * _SLOT + 4, y_of(row.target_minutes)
        parts.append(
            f'<line class="target" x1="{x1}" y1="{y:.1f}" x2="{x1 + _SLOT - 8}" y2="{y:.1f}" '
            f'stroke="{INK}" stroke-width="2" stroke-dasharray="6 3"/>'
        )
    if rows:
        parts.append(
            f'<text x="{width - _RIGHT}" y="{y_of(rows[-1].target_minutes) - 4:.1f}" '
            f'font-size="10" text-anchor="end" fill="{INK}">'
            f"target {escape(hours_text(rows[-1].target_minutes))}</text>"
        )
    parts.append("</svg>")
    return Markup("\n".join(parts))
