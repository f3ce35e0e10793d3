"""Settings, read from the environment (prefix ``GG_``) and an optional ``.env`` file."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Annotated
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.domain.time import resolve_zone

# Values shipped in .env.example; a production deployment must replace every one of them.
PLACEHOLDER_SECRET = "change-me"
PLACEHOLDER_FERNET_KEY = "Y2hhbmdlLW1lLWNoYW5nZS1tZS1jaGFuZ2UtbWUtMDA="


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every setting GrowthGuard reads. `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="GG_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///./var/growthguard.db"
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=lambda: [SecretStr(PLACEHOLDER_FERNET_KEY)]
    )
    public_url: str = "http://127.0.0.1:8000"
    default_timezone: str = "UTC"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    scheduler_enabled: bool = True
    allow_signup: bool = True
    poll_interval_seconds: int = Field(default=300, ge=30, le=86400)
    # How often the scheduler and the task dispatcher are checked (and restarted if dead).
    supervise_seconds: float = Field(default=5.0, gt=0, le=300)
    log_level: str = "INFO"
    google_client_id: str = ""
    google_client_secret: SecretStr = SecretStr("")
    microsoft_client_id: str = ""
    microsoft_client_secret: SecretStr = SecretStr("")
    microsoft_authority: str = "https://login.microsoftonline.com/common"
    # Slack (quiet during blocks): an app with user scopes users.profile:read/write, dnd:write.
    slack_client_id: str = ""
    slack_client_secret: SecretStr = SecretStr("")
    # Where Slack lives: the consent page is {base}/oauth/v2/authorize, the Web API {base}/api/.
    # Only tests change it (a fake Slack server on loopback).
    slack_base_url: str = "https://slack.com"
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_sender: str = "growthguard@localhost"
    smtp_starttls: bool = True
    # CalDAV servers on loopback or private networks (self-hosting); default: not in production
    # (unless the demo calendar runs). The same address classifier as notification targets.
    caldav_allow_private: bool | None = None
    # The local demo calendar (a Radicale child process); default: on in development only.
    demo_calendar: bool | None = None
    demo_calendar_port: int = Field(default=5232, ge=1, le=65535)
    demo_calendar_dir: str = "var/demo-calendar"
    demo_poll_seconds: int = Field(default=15, ge=5, le=3600)
    # /dev/mailbox lists the mail GrowthGuard sent (sign-up links...) so a laptop needs no SMTP.
    # Unset: on outside production when the public URL is a loopback address. Never in production.
    dev_mailbox: bool | None = None
    # Notification channels may reach loopback (a receiver on this machine). Unset: allowed
    # outside production only. Private, link-local and reserved addresses are always refused.
    allow_loopback_targets: bool | None = None
    # Where rate-limit counters live: memory:// for the embedded mode (one process); a scaled
    # deployment with several processes must share them, e.g. redis://host:6379.
    rate_limit_storage: str = "memory://"
    # Scaled mode (`serve --role web|worker|scheduler`). Tasks travel through this Celery
    # broker (redis:// or amqp://); `--role all` (the embedded default) ignores it.
    broker_url: str = "redis://127.0.0.1:6379/0"
    # Redis for the cross-process coalescing keys (and the queue depth metric).
    redis_url: str = "redis://127.0.0.1:6379/0"
    # The Celery queue, also the prefix of every Redis key (two deployments can share a Redis).
    task_queue: str = Field(default="growthguard", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    # Redis broker: a message not acknowledged this long (a dead worker) is delivered again.
    # Retry countdowns are capped below it (a delayed task is held unacknowledged).
    visibility_timeout_seconds: int = Field(default=3600, ge=2, le=86400)
    # The scheduler leader re-checks its lock this often; a standby tries as often (takeover).
    leader_check_seconds: float = Field(default=5.0, gt=0, le=300)
    # /metrics: with a token, Bearer-protected; without one, answered on loopback only.
    metrics_token: SecretStr = SecretStr("")
    # Worker and scheduler processes have no web server: their metrics listen here (0 = off).
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # auto: JSON in production, readable text otherwise.
    log_format: str = Field(default="auto", pattern=r"^(auto|json|text)$")

    @field_validator("dev_mailbox", "allow_loopback_targets", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _valid_fernet_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        if not keys:
            raise ValueError("at least one key is required")
        for index, key in enumerate(keys):
            try:
                Fernet(key.get_secret_value().encode())
            except (ValueError, TypeError):
                raise ValueError(
                    f"key #{index + 1} is not a Fernet key (32 url-safe base64 bytes); "
                    "make one with `growthguard keygen`"
                ) from None
        return keys

    @field_validator("caldav_allow_private", "demo_calendar", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("default_timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        resolve_zone(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _valid_database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            make_url(value).get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError):
            raise ValueError(
                "not a usable database URL; e.g. sqlite:///./var/growthguard.db or "
                "postgresql+psycopg://user@host/growthguard"
            ) from None
        return value

    @field_validator("public_url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _valid_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @model_validator(mode="after")
    def _no_placeholders_in_production(self) -> Settings:
        if self.env is not Environment.PRODUCTION:
            return self
        if self.secret_key.get_secret_value() in {PLACEHOLDER_SECRET, ""}:
            raise ValueError("GG_SECRET_KEY still has the placeholder value; set a random secret")
        if len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("GG_SECRET_KEY must be at least 32 characters in production")
        if any(k.get_secret_value() == PLACEHOLDER_FERNET_KEY for k in self.encryption_keys):
            raise ValueError(
                "GG_ENCRYPTION_KEYS still holds the placeholder key; make one with "
                "`growthguard keygen`"
            )
        if self.dev_mailbox:
            raise ValueError("GG_DEV_MAILBOX cannot be enabled in production")
        if self.allow_loopback_targets:
            raise ValueError("GG_ALLOW_LOOPBACK_TARGETS cannot be enabled in production")
        if not self.slack_base_url.startswith("https://"):
            raise ValueError("GG_SLACK_BASE_URL must be an https URL in production")
        return self

    @property
    def dev_mailbox_enabled(self) -> bool:
        """Whether /dev/mailbox serves the mail this process sent (never in production)."""
        if self.env is Environment.PRODUCTION:
            return False
        if self.dev_mailbox is not None:
            return self.dev_mailbox
        host = urlsplit(self.public_url).hostname or ""
        return host in {"127.0.0.1", "localhost", "::1"}

    @property
    def loopback_targets_allowed(self) -> bool:
        if self.env is Environment.PRODUCTION:
            return False
        return True if self.allow_loopback_targets is None else self.allow_loopback_targets

    @field_validator("microsoft_authority")
    @classmethod
    def _valid_authority(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("must be an https URL, e.g. https://login.microsoftonline.com/common")
        return value.rstrip("/")

    @field_validator("slack_base_url")
    @classmethod
    def _valid_slack_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (http:// only for a local test server)")
        return value.rstrip("/")

    @property
    def slack_enabled(self) -> bool:
        """Slack can be connected (a client id and secret are configured)."""
        return bool(self.slack_client_id and self.slack_client_secret.get_secret_value())

    @property
    def google_enabled(self) -> bool:
        return bool(self.google_client_id and self.google_client_secret.get_secret_value())

    @property
    def microsoft_enabled(self) -> bool:
        return bool(self.microsoft_client_id and self.microsoft_client_secret.get_secret_value())

    def redirect_uri(self, provider: str) -> str:
        """One exact redirect URI per provider (mix-up defence, RFC 9700)."""
        return f"{self.public_url}/auth/{provider}/callback"

    @property
    def caldav_allow_private_effective(self) -> bool:
        """CalDAV servers on loopback / private networks: by default outside production, or
        wherever the demo calendar (on loopback) runs. Link-local and reserved: never."""
        if self.caldav_allow_private is not None:
            return self.caldav_allow_private
        return self.env is not Environment.PRODUCTION or self.demo_calendar_enabled

    @property
    def demo_calendar_enabled(self) -> bool:
        if self.demo_calendar is not None:
            return self.demo_calendar
        return self.env is Environment.DEVELOPMENT

    @property
    def push_enabled(self) -> bool:
        """Providers can only push to a public https URL; otherwise we poll."""
        return self.public_url.startswith("https://")


class SettingsError(Exception):
    """Settings are invalid; the message names each bad variable."""


def describe_validation_error(error: ValidationError) -> str:
    """Turn a pydantic error into lines like ``GG_PORT: Input should be ...``."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        name = f"GG_{field.upper()}" if field else "settings"
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{name}: {message}")
    return "; ".join(lines)


def load_settings() -> Settings:
    """Read settings now, raising SettingsError with variable names on bad input."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (cached; tests pass their own Settings instead)."""
    return load_settings()
