"""Connecting a CalDAV calendar from the dashboard form, against real Radicale servers.

Every way it can go wrong gets a message next to the form that says what to do: wrong URL,
wrong password, no event calendars, a certificate that cannot be verified, nothing listening.
The password is stored encrypted and disconnecting deletes it. An email address is enough to
find the server (RFC 6764: SRV and TXT records, from a DNS server on loopback).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import dns.resolver
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.db.models import Account, Calendar, Identity, User
from app.main import create_app
from app.providers import CalDavOptions, Providers
from app.runtime import Runtime, build_runtime
from tests.servers.caldav import PASSWORD, USER, RunningRadicale, dav_client, new_calendar, radicale
from tests.servers.dns import FakeDns
from tests.servers.tls import self_signed
from tests.support.dashboard import csrf, sign_up
from tests.support.servers import free_port
from tests.support.settings import make_settings
from tests.support.world import FakeClock

FORM = "/dashboard/accounts/connect/caldav"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRadicale]:
    with radicale(Path(tmp_path_factory.mktemp("radicale"))) as running:
        new_calendar(running, "Work")
        # bob only has a task list
        running.process.add_user("bob", "bobs-password")
        with dav_client(running, "bob", "bobs-password") as client:
            client.principal().make_calendar(
                name="Tasks", cal_id="tasks", supported_calendar_component_set=["VTODO"]
            )
        yield running


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningRadicale, Path]]:
    folder = Path(tmp_path_factory.mktemp("radicale-tls"))
    cert, key = self_signed(folder)
    with radicale(folder / "data", tls=(cert, key)) as running:
        new_calendar(running, "Work")
        yield running, cert


def _runtime(db_url: str, engine: Engine, clock: FakeClock, verify: bool | str = True) -> Runtime:
    providers = Providers(caldav=CalDavOptions(timeout=5, verify_tls=verify))
    return build_runtime(make_settings(db_url), engine=engine, clock=clock, providers=providers)


@pytest.fixture
def app_runtime(db_url: str, engine: Engine, clock: FakeClock) -> Runtime:
    return _runtime(db_url, engine, clock)


@pytest.fixture
def browser(app_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(app_runtime, scheduler=False), follow_redirects=False) as client:
        sign_up(client, "ann@corp.example")
        yield client


def connect(client: TestClient, server: str, username: str, password: str) -> str:
    page = client.get("/dashboard/accounts")
    reply = client.post(
        FORM,
        data={
            "server": server,
            "username": username,
            "password": password,
            "csrf_token": csrf(page.text),
        },
    )
    if reply.status_code == 303:
        return "connected"
    assert reply.status_code == 422, reply.text[:300]
    errors = re.findall(r'class="field-error" id="caldav-(\w+)-error">([^<]+)<', reply.text)
    assert errors, "no message next to a field"
    assert password not in reply.text  # never echoed back
    return " | ".join(f"{field}: {html.unescape(message)}" for field, message in errors)


def test_connects_and_stores_the_password_encrypted(
    browser: TestClient, app_runtime: Runtime, server: RunningRadicale
) -> None:
    assert connect(browser, server.base_url, USER, PASSWORD) == "connected"
    with app_runtime.sessions() as session:
        account = session.scalars(select(Account)).one()
        assert account.provider == "caldav"
        assert account.credentials is not None
        assert PASSWORD.encode() not in account.credentials
        assert PASSWORD in app_runtime.cipher.decrypt(account.credentials).decode()
        names = [c.name for c in session.scalars(select(Calendar))]
        assert names == ["Work"]
        account_id = account.id
    page = browser.get("/dashboard/accounts")
    assert f"{USER} on 127.0.0.1" in page.text
    reply = browser.post(
        f"/dashboard/accounts/{account_id}/disconnect", data={"csrf_token": csrf(page.text)}
    )
    assert reply.status_code == 303
    with app_runtime.sessions() as session:
        assert session.get_one(Account, account_id).credentials is None


def test_wrong_url(browser: TestClient, server: RunningRadicale) -> None:
    said = connect(browser, f"{server.base_url}{USER}/no-such-place/", USER, PASSWORD)
    assert said.startswith("server:") and "no CalDAV service at that URL" in said


def test_someone_elses_url(browser: TestClient, server: RunningRadicale) -> None:
    said = connect(browser, f"{server.base_url}bob/", USER, PASSWORD)
    assert said.startswith("server:") and "refused this login access to that URL" in said


def test_not_a_url(browser: TestClient) -> None:
    said = connect(browser, "ftp://127.0.0.1/", USER, PASSWORD)
    assert said == "server: The URL must start with https://"


def test_wrong_password(browser: TestClient, server: RunningRadicale) -> None:
    said = connect(browser, server.base_url, USER, "wrong-password")
    assert said.startswith("password:") and "refused this username or password" in said


def test_no_event_calendars(browser: TestClient, server: RunningRadicale) -> None:
    said = connect(browser, server.base_url, "bob", "bobs-password")
    assert "no calendar for events" in said


def test_a_certificate_that_cannot_be_verified(
    browser: TestClient, tls: tuple[RunningRadicale, Path]
) -> None:
    running, _ = tls
    said = connect(browser, running.base_url, USER, PASSWORD)
    assert said.startswith("server:") and "certificate could not be verified" in said


def test_nothing_listening(browser: TestClient) -> None:
    said = connect(browser, f"http://127.0.0.1:{free_port()}/", USER, PASSWORD)
    assert said.startswith("server:") and "Could not reach 127.0.0.1" in said


def test_an_unknown_host(browser: TestClient) -> None:
    said = connect(browser, "https://calendar.invalid/", USER, PASSWORD)
    assert said.startswith("server:") and "could not be found" in said


def test_private_addresses_are_refused_when_not_allowed(
    db_url: str, engine: Engine, clock: FakeClock, server: RunningRadicale
) -> None:
    providers = Providers(caldav=CalDavOptions(timeout=5, allow_private=False))
    runtime = build_runtime(make_settings(db_url), engine=engine, clock=clock, providers=providers)
    with TestClient(create_app(runtime, scheduler=False), follow_redirects=False) as client:
        sign_up(client, "ann@corp.example")
        said = connect(client, server.base_url, USER, PASSWORD)
    assert "private or local address" in said


def test_an_email_address_finds_the_server(
    db_url: str,
    engine: Engine,
    clock: FakeClock,
    tls: tuple[RunningRadicale, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RFC 6764: _caldavs._tcp SRV and TXT records lead from an email to the server."""
    running, cert = tls
    port = running.process.port
    records = {
        ("_caldavs._tcp.localhost", "SRV"): [f"0 1 {port} localhost."],
        ("_caldavs._tcp.localhost", "TXT"): ['"path=/"'],
    }
    with FakeDns(records) as fake:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = fake.port
        resolver.lifetime = 2
        monkeypatch.setattr(dns.resolver, "default_resolver", resolver)
        runtime = _runtime(db_url, engine, clock, verify=str(cert))
        with TestClient(create_app(runtime, scheduler=False), follow_redirects=False) as client:
            sign_up(client, "ann@corp.example")
            said = connect(client, f"{USER}@localhost", USER, PASSWORD)
        assert said == "connected"
        assert ("_caldavs._tcp.localhost.", "SRV") in fake.queries
    with runtime.sessions() as session:
        account = session.scalars(select(Account)).one()
        assert account.provider_account_id == f"https://localhost:{port}/{USER}/"


def test_a_revoked_app_password_shows_needs_reconnect(
    browser: TestClient, app_runtime: Runtime, tmp_path: Path
) -> None:
    from app import tasks  # the app's lifespan installed its runtime for tasks

    with radicale(tmp_path / "radicale") as own:
        new_calendar(own, "Work")
        assert connect(browser, own.base_url, USER, PASSWORD) == "connected"
        own.process.add_user(USER, "a-new-app-password")  # the person revoked the old one
        with app_runtime.sessions() as session:
            calendar_id = session.scalars(select(Calendar.id)).one()
        tasks.sync_calendar(calendar_id)  # what the next poll runs
    with app_runtime.sessions() as session:
        account = session.scalars(select(Account)).one()
        assert account.status == "needs_reauth"
    page = browser.get("/dashboard/accounts").text
    assert "needs reauth" in page
    assert "To reconnect, enter the server and a new app password" in page
    kinds = [n["kind"] for n in browser.get("/notifications").json()]
    assert "account.needs_reauth" in kinds


def test_a_calendar_account_links_to_one_person_only(
    browser: TestClient, app_runtime: Runtime, server: RunningRadicale
) -> None:
    """The principal URL is the CalDAV identity: linked to whoever connected it first, and a
    second GrowthGuard user with the same app password cannot attach it (or act in it)."""
    assert connect(browser, server.base_url, USER, PASSWORD) == "connected"
    browser.cookies.clear()
    sign_up(browser, "eve@elsewhere.example")
    page = browser.get("/dashboard/accounts")
    reply = browser.post(
        FORM,
        data={
            "server": server.base_url,
            "username": USER,
            "password": PASSWORD,
            "csrf_token": csrf(page.text),
        },
    )
    assert reply.status_code == 422
    assert "linked to another GrowthGuard user" in html.unescape(reply.text)
    with app_runtime.sessions() as session:
        owners = {a.user_id for a in session.scalars(select(Account))}
        links = [(i.provider, i.subject, i.user_id) for i in session.scalars(select(Identity))]
        ann = session.scalars(select(User).where(User.email == "ann@corp.example")).one()
    assert owners == {ann.id}
    assert links == [("caldav", f"{server.base_url}{USER}/", ann.id)]


def test_addresses_a_server_claims_prove_nothing(
    browser: TestClient, app_runtime: Runtime, server: RunningRadicale
) -> None:
    """A CalDAV login proves no email: whatever the server lists, nobody's address becomes
    verified and no provider sign-in can be linked through it."""
    assert connect(browser, server.base_url, USER, PASSWORD) == "connected"
    with app_runtime.sessions() as session:
        identity = session.scalars(select(Identity)).one()
        user = session.get_one(User, identity.user_id)
    assert identity.email_verified is False
    assert user.email_verified_at is not None  # proven by the sign-up link, not by CalDAV
    with app_runtime.sessions() as session:
        unverified = session.scalars(
            select(Identity).where(Identity.email_verified.is_(True))
        ).all()
    assert unverified == []
