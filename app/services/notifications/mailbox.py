"""Mail GrowthGuard sends about the account itself (sign-up links), and the dev mailbox.

Sending happens off the request, so the answer's timing does not depend on which mail was
sent (or whether the SMTP relay is slow). Outside production, the mail also lands in an
in-memory mailbox served at /dev/mailbox, so trying GrowthGuard on a laptop needs no SMTP.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from app.dispatch import Dispatcher
from app.services.notifications.senders import EmailSender

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    sent_at: datetime


class DevMailbox:
    """The last mails sent by this process, newest first (development only)."""

    def __init__(self, keep: int = 100) -> None:
        self._mails: deque[Mail] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def add(self, mail: Mail) -> None:
        with self._lock:
            self._mails.appendleft(mail)

    def mails(self) -> list[Mail]:
        with self._lock:
            return list(self._mails)


def send(
    mail: Mail,
    *,
    mailbox: DevMailbox | None,
    email: EmailSender,
    smtp_configured: bool,
    dispatcher: Dispatcher,
) -> None:
    """Put `mail` in the dev mailbox (if any) and hand it to SMTP in the background."""
    if mailbox is not None:
        mailbox.add(mail)
    if not smtp_configured:
        if mailbox is None:
            log.warning("account mail not sent: no SMTP server is configured (GG_SMTP_HOST)")
        return

    def deliver() -> None:
        try:
            email(mail.to, mail.subject, mail.text)
        except Exception as error:  # logged without the text: it holds a sign-up link
            log.warning("account mail could not be sent: %s", type(error).__name__)

    dispatcher.submit(f"account-mail:{id(mail)}", deliver)
