"""Browser fixtures: headless Chromium (Playwright) against the real app and the fake Google.

The app is served over plain HTTP on loopback and its public URL is that same address, so a
real browser reaches it directly (no pretend https name): push notifications are then off and
the tests ask for a sync explicitly. The database is SQLite only: the browser tests exercise the
pages, not the storage backends, so they run once.

Only fixtures and hooks live here; the helpers they use (and the tests import) are in
tests/support/browser.py.

Chromium: Debian's package (/usr/bin/chromium, or the path in GG_CHROMIUM); Playwright never
downloads a browser here. When it or Playwright is missing, the tests fail on CI (CI=true) and
are skipped elsewhere (`scripts/ensure-chromium.sh` installs it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from app.db.migrate import upgrade
from app.db.session import make_engine
from app.main import create_app
from app.providers import Providers
from app.runtime import build_runtime
from connectors.google.oauth import GoogleConfig
from tests.e2e.harness import AppServer
from tests.fakes.google_server import CLIENT_ID, CLIENT_SECRET, FakeGoogle
from tests.support.browser import (
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    USER,
    Journey,
    LateApp,
    Site,
    chromium_path,
)
from tests.support.databases import ON_CI
from tests.support.settings import make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives headless Chromium (deselect with -m 'not browser')"
    )
    config.addinivalue_line(
        "markers", "step: one step of a journey; after a failed step the later ones are skipped"
    )


# --- Chromium ------------------------------------------------------------------------------


def _unavailable(reason: str) -> NoReturn:
    if ON_CI:
        pytest.fail(f"{reason} (required on CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium, once per module (closed before other modules run)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install playwright axe-playwright-python)")
    try:
        import axe_playwright_python  # noqa: F401
    except ImportError:
        _unavailable("axe-playwright-python is not installed (pip install axe-playwright-python)")
    executable = chromium_path()
    if not os.access(executable, os.X_OK):
        _unavailable(
            f"Chromium not found at {executable} (set GG_CHROMIUM, or run "
            "scripts/ensure-chromium.sh as root to install Debian's chromium)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


# --- the app and the fake Google server ----------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('browser-db') / 'growthguard.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    late = LateApp()
    server = AppServer(late)
    callback = f"{server.base_url}/auth/google/callback"
    try:
        with pytest.MonkeyPatch.context() as patch, FakeGoogle(redirect_uris=(callback,)) as fake:
            patch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain http
            fake.add_account(USER, workspace=True, time_zone="Europe/Berlin")
            fake.set_consent(USER)
            settings = make_settings(
                db_url,
                public_url=server.base_url,
                google_client_id=CLIENT_ID,
                google_client_secret=CLIENT_SECRET,
            )
            providers = Providers(google=GoogleConfig(**fake.endpoints()))
            runtime = build_runtime(settings, engine=engine, providers=providers)
            late.app = create_app(runtime, scheduler=False)
            with server:
                yield Site(server.base_url, fake)
    finally:
        engine.dispose()


# --- one browser tab for the whole journey -------------------------------------------------


@pytest.fixture(scope="module")
def journey(browser: Browser, site: Site) -> Iterator[Journey]:
    context = browser.new_context(
        base_url=site.base_url, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    state = Journey(site=site, page=page)
    page.on("pageerror", lambda error: state.page_errors.append(f"{page.url}: {error}"))
    # The pages run under a strict CSP: anything inline that it blocks is an error too.
    page.on(
        "console",
        lambda message: (
            state.page_errors.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.on("request", lambda request: state.in_flight.add(request))
    page.on("requestfinished", lambda request: state.in_flight.discard(request))
    page.on("requestfailed", lambda request: state.in_flight.discard(request))
    try:
        yield state
    finally:
        context.close()


# --- steps of one journey (a class marked `step`): after a failed step, the later are skipped


_FAILED_STEPS = pytest.StashKey[dict[str, str]]()


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    failed = call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception)
    if call.when == "call" and failed and item.get_closest_marker("step") and item.parent:
        item.session.stash.setdefault(_FAILED_STEPS, {}).setdefault(item.parent.nodeid, item.name)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("step") and item.parent:
        failed = item.session.stash.get(_FAILED_STEPS, {}).get(item.parent.nodeid)
        if failed is not None:
            pytest.skip(f"an earlier step of the journey failed: {failed}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)
