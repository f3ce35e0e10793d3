"""Helpers for the browser tests (tests/browser): Chromium's settings, the late-bound app, the
running site, one tab's journey through the pages, and the axe-core audit. The fixtures that
use them live in tests/browser/conftest.py."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.fakes.google_server import FakeGoogle

if TYPE_CHECKING:
    from playwright.sync_api import Page

USER = "ann@corp.example"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE_REPORTS = ROOT / "artifacts" / "axe"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000

# The basics every page must pass; a violation of any of these fails the page's check.
BASIC_RULES = (
    "label",
    "page-has-heading-one",
    "heading-order",
    "color-contrast",
    "html-has-lang",
    "document-title",
    "image-alt",
    "button-name",
    "link-name",
)


def chromium_path() -> str:
    return os.environ.get("GG_CHROMIUM") or DEFAULT_CHROMIUM


class LateApp:
    """An ASGI app set after the server picked its port (the app's settings need the URL)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@dataclass
class Site:
    """The running app (at `base_url`, also its public URL) and the fake Google it uses."""

    base_url: str
    fake: FakeGoogle


@dataclass
class Journey:
    """What the steps share: the tab, what they learnt, and every page's audit."""

    site: Site
    page: Page
    audits: dict[str, dict[str, Any]] = field(default_factory=dict)
    page_errors: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    in_flight: set[Any] = field(default_factory=set)  # the tab's unfinished requests
    done: list[str] = field(default_factory=list)  # the steps this tab has been through

    def reach(self, steps: Sequence[tuple[str, Callable[[Journey], None]]], upto: str) -> None:
        """Go through `steps` in order up to and including `upto`, skipping those done.

        So each test runs alone (`-k keep_meeting` walks the earlier steps first) and, in a
        full run, every step runs once, in the test named after it.
        """
        names = [name for name, _ in steps]
        if upto not in names:
            raise KeyError(f"no step {upto!r} (steps: {names})")
        for name, step in steps:
            if name not in self.done:
                step(self)
                self.done.append(name)
            if name == upto:
                return

    def settle(self, debounce_ms: int = 500, timeout_s: float = 10.0) -> None:
        """Let the page's scripts finish: past any debounce timer, then no request in flight."""
        self.page.wait_for_timeout(debounce_ms)
        deadline = time.monotonic() + timeout_s
        while self.in_flight:
            if time.monotonic() > deadline:
                raise AssertionError(f"requests still in flight: {self.in_flight}")
            self.page.wait_for_timeout(25)

    def record(self, name: str) -> None:
        """A full-page screenshot and an axe-core audit of the page as it is now."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        AXE_REPORTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        result = audit(self.page)
        (AXE_REPORTS / f"{name}.json").write_text(json.dumps(result, indent=2))
        self.audits[name] = result


def audit(page: Page) -> dict[str, Any]:
    """axe-core's violations of every rule it runs by default (the gate picks BASIC_RULES)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    return {
        "url": page.url,
        "axe": results.get("testEngine", {}).get("version"),
        "violations": results["violations"],
    }
