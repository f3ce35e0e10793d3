"""The account commands of the CLI: a user made with POST /users gets into the dashboard
(issue 12, 10), and `migrate` says what it did (issue 12, 11)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.cli import main, public_url_warning
from app.main import create_app
from app.runtime import Runtime
from tests.signups import api_sign_up
from tests.support.dashboard import csrf
from tests.support.settings import TEST_KEY

EMAIL = "api-made@example.org"
PASSWORD = "a long enough passphrase"


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads the test database's settings from the environment (no .env here)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GG_ENV", "test")
    monkeypatch.setenv("GG_DATABASE_URL", db_url)
    monkeypatch.setenv("GG_ENCRYPTION_KEYS", TEST_KEY)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, scheduler=False), follow_redirects=False) as test_client:
        yield test_client


def sign_in(client: TestClient, password: str) -> int:
    token = csrf(client.get("/").text)
    reply = client.post("/signin", data={"email": EMAIL, "password": password, "csrf_token": token})
    return reply.status_code


def set_password(monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["users", "set-password", *args, "--password-stdin"])


def test_a_user_made_with_post_users_signs_in_after_set_password(
    client: TestClient,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    api_sign_up(client, EMAIL, "Europe/Berlin")  # no password: API only
    assert sign_in(client, PASSWORD) == 401

    assert set_password(monkeypatch, EMAIL.upper(), stdin=PASSWORD + "\n") == 0
    assert f"password set for {EMAIL}" in capsys.readouterr().out

    assert sign_in(client, PASSWORD) == 303
    week = client.get("/dashboard/week")
    assert week.status_code == 200 and EMAIL in week.text


def test_set_password_refuses_short_passwords_and_unknown_accounts(
    client: TestClient,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    api_sign_up(client, EMAIL)
    assert set_password(monkeypatch, EMAIL, stdin="short\n") == 2
    assert "password: use at least 12 characters" in capsys.readouterr().err
    assert sign_in(client, "short") == 401
    assert set_password(monkeypatch, "nobody@example.org", stdin=PASSWORD + "\n") == 2
    assert "no account with the email nobody@example.org" in capsys.readouterr().err


def test_post_users_with_a_password_signs_in_to_the_dashboard(client: TestClient):
    api_sign_up(client, EMAIL, password=PASSWORD)
    assert sign_in(client, PASSWORD) == 303


def test_migrate_says_whether_it_created_or_found_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GG_ENV", "test")
    monkeypatch.setenv("GG_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    monkeypatch.setenv("GG_ENCRYPTION_KEYS", TEST_KEY)
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out.startswith("created the database schema (revision ")
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out.startswith("database is up to date (revision ")


def test_a_public_url_on_another_local_port_is_warned_about():
    warning = public_url_warning("http://127.0.0.1:8000", 8101)
    assert warning is not None and "Set GG_PUBLIC_URL to http://127.0.0.1:8101" in warning
    assert public_url_warning("http://127.0.0.1:8101", 8101) is None
    assert public_url_warning("https://gg.example.org", 8000) is None  # behind a proxy


@pytest.mark.parametrize("command", ["serve", "init-env"])
def test_every_option_has_help(command: str, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    lines = capsys.readouterr().out.splitlines()
    options = [i for i, line in enumerate(lines) if line.strip().startswith("--")]
    assert options
    for i in options:
        line = lines[i]
        # argparse puts the help on the next line when the option itself is long
        following = lines[i + 1] if i + 1 < len(lines) else ""
        wrapped = following.startswith(" " * 8) and not following.strip().startswith("-")
        assert len(line.split()) > 2 or wrapped, f"no help text: {line!r}"


def test_plan_takes_a_lower_case_iso_week(capsys: pytest.CaptureFixture[str]):
    data = Path(__file__).parent.parent / "data"
    args = ["plan", "--events", str(data / "week.ics"), "--plan", str(data / "plan.yaml")]
    assert main([*args, "--week", "2027-w03"]) == 0
    lower = capsys.readouterr().out
    assert main([*args, "--week", "2027-W03"]) == 0
    assert lower == capsys.readouterr().out
