"""CalDAV app passwords and the demo calendar's login stay out of the logs and the database
file, through real flows over HTTP against real Radicale servers."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from app.db.models import Calendar, User
from app.demo.service import DemoCalendar
from app.main import create_app
from app.providers import Providers
from app.runtime import build_runtime
from tests.e2e.harness import PUBLIC_URL, AppServer, browser, wait_until
from tests.servers.caldav import PASSWORD, USER, new_calendar, radicale
from tests.signups import browser_sign_up
from tests.support.servers import free_port
from tests.support.settings import make_settings

EMAIL = "ann@corp.example"
WRONG = "Wr0ng-App-Passw0rd"


def test_no_caldav_or_demo_password_in_logs_or_the_database_file(
    db_url: str, engine: Engine, tmp_path: Path, logs: io.StringIO
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("reads the bytes of SQLite's database file; PostgreSQL has no such file")
    demo = DemoCalendar.at(tmp_path / "demo", free_port())
    settings = make_settings(db_url, public_url=PUBLIC_URL, dev_mailbox=True, demo_calendar=True)
    runtime = build_runtime(settings, engine=engine, providers=Providers(), demo=demo)
    with (
        radicale(tmp_path / "radicale") as server,
        AppServer(create_app(runtime, scheduler=False), access_log=True) as app,
        browser(app.base_url) as me,
    ):
        new_calendar(server, "Work")
        assert browser_sign_up(me, EMAIL).status_code == 303
        connect = "/accounts/connect/caldav"  # cookie session: the harness adds X-CSRF-Token
        tries = [
            {"server": server.base_url, "username": USER, "password": WRONG},
            {
                "server": server.base_url.replace("://", f"://{USER}:{PASSWORD}@"),
                "username": USER,
                "password": "x",
            },
        ]
        for fields in tries:
            refused = me.post(connect, json={"fields": fields})
            assert refused.status_code == 422, refused.text
            assert WRONG not in refused.text and PASSWORD not in refused.text
        assert "in their own fields" in refused.text
        fields = {"server": server.base_url, "username": USER, "password": PASSWORD}
        assert me.post(connect, json={"fields": fields}).status_code == 201
        # The demo calendar: connected from the dashboard, polled like any CalDAV account.
        page = me.get("/dashboard/accounts").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        used = me.post("/dashboard/demo/connect", data={"csrf_token": token.group(1)})
        assert used.status_code == 303, used.text
        with runtime.sessions() as session:
            user_id = session.scalars(select(User.id)).one()
            calendars = list(session.scalars(select(Calendar.id)))
        demo_password = demo.server.password_of(f"demo{user_id}")
        assert demo_password and demo_password in me.get("/dashboard/accounts").text  # shown
        for calendar_id in calendars:
            assert me.post(f"/calendars/{calendar_id}/sync").status_code == 202

        def synced() -> bool:
            with runtime.sessions() as session:
                rows = session.scalars(select(Calendar.last_synced_at)).all()
                return len(rows) == 2 and all(rows)

        wait_until(synced, timeout=30, interval=0.2)

    logged = logs.getvalue()
    assert "POST /accounts/connect/caldav" in logged  # the access log was captured
    path = Path(make_url(db_url).database or "")
    stored = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    for kind, secret in (("app password", PASSWORD), ("wrong password", WRONG)):
        assert secret not in logged, f"the {kind} is in the logs"
        assert secret.encode() not in stored, f"the {kind} is in the database file"
    assert demo_password not in logged, "the demo calendar's password is in the logs"
    assert demo_password.encode() not in stored, "the demo password is in the database file"
