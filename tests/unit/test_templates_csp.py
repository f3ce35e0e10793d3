"""The pages run under a strict CSP (script-src 'self'; style-src 'self'): no template may rely
on inline script, inline style or event-handler attributes, which the browser would block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = sorted(
    (Path(__file__).resolve().parents[2] / "app" / "web" / "templates").glob("*.html")
)
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE), "an inline <script>"),
    (re.compile(r"<style\b", re.IGNORECASE), "a <style> element"),
    (re.compile(r"\sstyle\s*=", re.IGNORECASE), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.IGNORECASE), "an event-handler attribute"),
    (re.compile(r"javascript:", re.IGNORECASE), "a javascript: URL"),
]


def inline_code(text: str) -> list[str]:
    return [what for pattern, what in INLINE if pattern.search(text)]


def test_templates_are_found() -> None:
    assert len(TEMPLATES) > 10


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.name for p in TEMPLATES])
def test_no_inline_code(path: Path) -> None:
    assert inline_code(path.read_text(encoding="utf-8")) == []


def test_the_check_sees_each_kind() -> None:
    assert inline_code("<script>go()</script>") == ["an inline <script>"]
    assert inline_code('<h2 style="font-size:1rem">') == ["a style attribute"]
    assert inline_code('<button onclick="go()">') == ["an event-handler attribute"]
    assert inline_code('<script src="/static/refresh.js" defer></script>') == []
