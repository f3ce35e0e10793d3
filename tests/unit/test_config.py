"""Settings: bad values fail at start naming the variable; production refuses placeholders."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from app.config import PLACEHOLDER_FERNET_KEY, Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("GG_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_are_the_embedded_mode():
    settings = load_settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.scheduler_enabled and not settings.push_enabled


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GG_DEFAULT_TIMEZONE", "Mars/Olympus"),
        ("GG_PORT", "eighty"),
        ("GG_ENCRYPTION_KEYS", "not-a-key"),
        ("GG_PUBLIC_URL", "ftp://example.org"),
        ("GG_ENV", "staging"),
        ("GG_LOG_LEVEL", "LOUD"),
    ],
)
def test_invalid_settings_name_the_variable(monkeypatch, variable: str, value: str):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_production_refuses_placeholder_secrets(monkeypatch):
    monkeypatch.setenv("GG_ENV", "production")
    with pytest.raises(SettingsError, match="GG_SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("GG_SECRET_KEY", "x" * 40)
    with pytest.raises(SettingsError, match="GG_ENCRYPTION_KEYS"):
        load_settings()
    monkeypatch.setenv(
        "GG_ENCRYPTION_KEYS", f"{Fernet.generate_key().decode()},{PLACEHOLDER_FERNET_KEY}"
    )
    with pytest.raises(SettingsError, match="GG_ENCRYPTION_KEYS"):
        load_settings()
    monkeypatch.setenv("GG_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    assert load_settings().env == "production"


def test_https_public_url_enables_push(monkeypatch):
    monkeypatch.setenv("GG_PUBLIC_URL", "https://gg.example.org/")
    settings = load_settings()
    assert settings.push_enabled and settings.public_url == "https://gg.example.org"


def test_env_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("GG_DEFAULT_TIMEZONE=Asia/Kolkata\n")
    assert load_settings().default_timezone == "Asia/Kolkata"


@pytest.mark.parametrize("url", ["not a url", "nosuch://host/db", "sqlite+nodriver:///x.db"])
def test_an_invalid_database_url_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, url: str
):
    monkeypatch.setenv("GG_DATABASE_URL", url)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("GG_DATABASE_URL: ") and "\n" not in message


def test_the_cli_reports_a_bad_database_url_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    from app.cli import main

    monkeypatch.setenv("GG_DATABASE_URL", "postgresql+nosuchdriver://x/y")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err.strip()
    assert "GG_DATABASE_URL" in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_env_example_loads_and_the_demo_calendar_is_on_in_development_only() -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / ".env.example"
    settings = Settings(_env_file=str(example))  # type: ignore[call-arg]
    assert settings.demo_calendar is None and settings.demo_calendar_enabled
    assert settings.caldav_allow_private_effective
    production = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env="production",
        secret_key="x" * 40,
        encryption_keys="p0tAk3Cq3LAd1FQm0x2YF3fNGhW6iSl7n5vQbWmZ0bA=",
    )
    assert not production.demo_calendar_enabled
    assert not production.caldav_allow_private_effective
    assert Settings(_env_file=None, demo_calendar="true", env="test").demo_calendar_enabled  # type: ignore[call-arg]
