"""The process's wiring: settings, database, connectors and clock, built once at start-up.

Tasks run in scheduler threads (or Celery workers in the scaled mode) and take only ids, so
they find their collaborators here instead of in arguments that would have to be serialised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.session import make_engine, make_session_factory
from app.demo.service import DemoCalendar
from app.dispatch import Dispatcher, InProcessDispatcher
from app.providers import Providers, providers_from_settings, register_connectors
from app.ratelimit import Throttle
from app.security import CredentialCipher
from app.services.accounts.failures import tagged
from app.services.accounts.live import ConnectorFor, registry_connectors
from app.services.notifications.delivery import Senders, SmtpSettings, default_senders
from app.services.notifications.mailbox import DevMailbox, Mail
from app.services.notifications.mailbox import send as send_mail
from app.services.sync.channel_cache import ChannelCache

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    cipher: CredentialCipher
    connectors: ConnectorFor
    clock: Clock
    providers: Providers
    dispatcher: Dispatcher
    senders: Senders
    throttle: Throttle
    mailbox: DevMailbox | None = None
    # Push channels in memory (the webhook fast path); None: every notification reads the db.
    push_channels: ChannelCache | None = None
    demo: DemoCalendar | None = None  # the local demo calendar (development)

    def send_account_mail(self, mail: Mail) -> None:
        """Mail about the account itself (sign-up links): dev mailbox and/or SMTP, off-request."""
        send_mail(
            mail,
            mailbox=self.mailbox,
            email=self.senders.email,
            smtp_configured=bool(self.settings.smtp_host),
            dispatcher=self.dispatcher,
        )


def build_runtime(
    settings: Settings,
    *,
    connectors: ConnectorFor | None = None,
    clock: Clock = system_clock,
    engine: Engine | None = None,
    providers: Providers | None = None,
    senders: Senders | None = None,
    demo: DemoCalendar | None = None,
    dispatcher: Dispatcher | None = None,
) -> Runtime:
    """Wire a runtime; tests pass their own connectors, clock, engine or provider endpoints."""
    engine = engine or make_engine(settings.database_url)
    cipher = CredentialCipher(settings.encryption_keys)
    providers = providers or providers_from_settings(settings)
    register_connectors(providers)
    sessions = make_session_factory(engine)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        cipher=cipher,
        connectors=tagged(connectors or registry_connectors(cipher)),
        clock=clock,
        providers=providers,
        dispatcher=dispatcher or InProcessDispatcher(),
        senders=senders
        or default_senders(
            smtp_settings(settings), allow_loopback=settings.loopback_targets_allowed
        ),
        throttle=Throttle(settings.rate_limit_storage),
        mailbox=DevMailbox() if settings.dev_mailbox_enabled else None,
        demo=demo or demo_from_settings(settings),
        push_channels=ChannelCache(sessions),
    )


def demo_from_settings(settings: Settings) -> DemoCalendar | None:
    """The demo calendar when enabled (not started yet: the app's lifespan starts it)."""
    if not settings.demo_calendar_enabled:
        return None
    if not settings.caldav_allow_private_effective:
        # Its server is on loopback, which CalDAV accounts may then not reach.
        log.warning("the demo calendar is off: GG_CALDAV_ALLOW_PRIVATE=false forbids loopback")
        return None
    return DemoCalendar.at(Path(settings.demo_calendar_dir), settings.demo_calendar_port)


def smtp_settings(settings: Settings) -> SmtpSettings | None:
    """SMTP from settings; None (email channels wait as "not configured") without a host."""
    if not settings.smtp_host:
        return None
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(),
        sender=settings.smtp_sender,
        starttls=settings.smtp_starttls,
    )


_current: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    """Make `runtime` the one tasks use (None uninstalls)."""
    global _current
    _current = runtime


def current() -> Runtime:
    """The installed runtime; tasks fail loudly if the process was not wired."""
    if _current is None:
        raise RuntimeError("no runtime installed; call app.runtime.install() at start-up")
    return _current
