"""Sign-up that does not tell who has an account, and creates one only for a proven address.

Asking to sign up (the form or POST /users) always answers the same: "check your email". The
address gets either a confirmation link or, when it already has an account, a note saying so.
Nothing is stored until the link is used: the link itself carries the request, encrypted and
authenticated with the server's keys, expiring after `LINK_TTL` and good for one use. So a
stranger cannot reserve someone else's address, and every local account has a proven email.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import User
from app.domain.time import resolve_zone
from app.security import CredentialCipher
from app.services import links
from app.services.errors import InvalidInputError
from app.services.notifications.mailbox import Mail
from app.services.people import passwords
from app.services.people.users import create_user, default_working_hours_json, parse_working_hours

LINK_TTL = timedelta(hours=24)
PURPOSE = "signup"
ORIGINS = ("web", "api")


@dataclass(frozen=True)
class Confirmed:
    user: User
    origin: str


def normalise_email(email: str, field: str = "email") -> str:
    """The address as stored (lower case); InvalidInputError when it is not an address."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise InvalidInputError([(field, f"not a valid email address: {error}")]) from None


def request_sign_up(
    session: Session,
    cipher: CredentialCipher,
    *,
    email: str,
    timezone: str,
    public_url: str,
    now: datetime,
    origin: str,
    working_hours: Mapping[str, Sequence[str]] | None = None,
    password: str | None = None,
) -> Mail:
    """Validate the request and return the mail to send; the caller answers the same anyway."""
    address = normalise_email(email)
    try:
        resolve_zone(timezone)
    except ValueError as error:
        raise InvalidInputError([("timezone", str(error))]) from None
    hours = dict(working_hours) if working_hours is not None else default_working_hours_json()
    parse_working_hours(hours, "working_hours")
    if password is not None:
        passwords.check_password(password)
    # The hash happens on both paths (new or existing address), so timing does not tell them
    # apart; without a password there is none on either path.
    password_hash = passwords.hash_password(password) if password is not None else None
    exists = session.scalars(select(User.id).where(User.email == address)).first() is not None
    if exists:
        return Mail(
            to=address,
            subject="Your GrowthGuard account",
            text=(
                "Someone (perhaps you) asked to create a GrowthGuard account for this address.\n"
                "You already have one, so nothing was changed. Sign in here:\n\n"
                f"{public_url}/\n\nIf this was not you, you can ignore this message."
            ),
            sent_at=now,
        )
    request = {
        "p": PURPOSE,
        "id": secrets.token_hex(16),
        "email": address,
        "timezone": timezone,
        "working_hours": {k: list(v) for k, v in hours.items()},
        "password_hash": password_hash,
        "origin": origin if origin in ORIGINS else "web",
    }
    token = cipher.encrypt(json.dumps(request).encode()).decode()
    return Mail(
        to=address,
        subject="Confirm your GrowthGuard account",
        text=(
            "Open this link to confirm your email address and create your GrowthGuard "
            f"account (it works once, for {int(LINK_TTL.total_seconds() // 3600)} hours):\n\n"
            f"{public_url}/signup/confirm?t={token}\n\n"
            "If you did not ask for this, ignore this message: no account is created."
        ),
        sent_at=now,
    )


def read_link(cipher: CredentialCipher, token: str) -> dict[str, Any]:
    """The sign-up request inside a confirmation link; LinkRejectedError when it is not one."""
    try:
        request = json.loads(cipher.decrypt(token.encode(), ttl=int(LINK_TTL.total_seconds())))
    except ValueError:
        raise links.LinkRejectedError("This link is not valid or has expired.") from None
    if not isinstance(request, dict) or request.get("p") != PURPOSE:
        raise links.LinkRejectedError("This link is not valid or has expired.")
    return request


def confirm_sign_up(
    session: Session, cipher: CredentialCipher, token: str, now: datetime
) -> Confirmed:
    """Create the account a confirmation link asks for (once); the email counts as proven."""
    request = read_link(cipher, token)
    links.use_once(session, PURPOSE, request, now, LINK_TTL)
    address = str(request["email"])
    if session.scalars(select(User.id).where(User.email == address)).first() is not None:
        raise links.LinkRejectedError(
            "An account with this email exists already (created since this link was sent). "
            "Sign in instead."
        )
    user, _ = create_user(
        session, address, str(request["timezone"]), request["working_hours"], with_token=False
    )
    user.password_hash = request.get("password_hash")
    user.email_verified_at = now
    session.flush()
    return Confirmed(user=user, origin=str(request.get("origin", "web")))
