"""How notifications leave the building: SMTP email and HTTP POSTs (injectable in tests)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from app.services.notifications import egress
from app.services.notifications.channels import LOCAL_HOSTS

TIMEOUT_SECONDS = 10.0
USER_AGENT = "GrowthGuard-Notifier"


class DeliveryError(Exception):
    """A channel refused the message or could not be reached; the text is safe to store."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where email goes out; no username means no login."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    sender: str
    starttls: bool


EmailSender = Callable[[str, str, str], None]  # (to, subject, text)
JsonPoster = Callable[[str, bytes, Mapping[str, str]], None]  # (url, body bytes, headers)


@dataclass(frozen=True)
class Senders:
    """The two ways out; tests inject their own. Each raises on failure."""

    email: EmailSender
    post_json: JsonPoster


def smtp_sender(config: SmtpSettings, timeout: float = TIMEOUT_SECONDS) -> EmailSender:
    """Plain-text email through an SMTP relay (STARTTLS and login when configured)."""

    def send(to: str, subject: str, text: str) -> None:
        if config.username and not config.starttls and config.host not in LOCAL_HOSTS:
            # Never put the relay password on the wire in the clear.
            raise DeliveryError("refusing to log in to a remote SMTP server without STARTTLS")
        message = EmailMessage()
        message["From"] = config.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        # An explicit domain: make_msgid would otherwise do a (possibly slow) FQDN lookup.
        message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or "localhost")
        message.set_content(text)
        with smtplib.SMTP(config.host, config.port, timeout=timeout) as client:
            if config.starttls:
                client.starttls(context=ssl.create_default_context())
            if config.username:
                client.login(config.username, config.password)
            client.send_message(message)

    return send


def http_poster(
    *, allow_loopback: bool = False, resolve: egress.Resolver = egress.system_resolver
) -> JsonPoster:
    """POST the exact body bytes to a checked public address (app/services/notifications/egress.py).

    Anything but a 2xx answer (redirects included) fails.
    """

    def post(url: str, body: bytes, headers: Mapping[str, str]) -> None:
        try:
            response = egress.post(
                url,
                body,
                {"User-Agent": USER_AGENT, **headers},
                allow_loopback=allow_loopback,
                resolve=resolve,
            )
        except egress.EgressRefusedError as error:
            raise DeliveryError(f"refused: {error}") from None
        if not response.is_success:
            raise DeliveryError(f"HTTP {response.status_code}")

    return post


def _email_not_configured(to: str, subject: str, text: str) -> None:
    raise DeliveryError("SMTP is not configured: set GG_SMTP_HOST")


def default_senders(smtp: SmtpSettings | None, *, allow_loopback: bool = False) -> Senders:
    """SMTP (when configured) and httpx to public addresses (loopback too, if allowed)."""
    email = smtp_sender(smtp) if smtp is not None else _email_not_configured
    return Senders(email=email, post_json=http_poster(allow_loopback=allow_loopback))
