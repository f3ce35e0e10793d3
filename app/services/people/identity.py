"""Who a provider sign-in is: linking a provider's stable subject to a GrowthGuard user.

The rules (DESIGN §11):
- a person at a provider is the provider's subject (the registry entry's `Grant.subject`: e.g.
  an OpenID `sub`, or a CalDAV principal URL), never an email: a known subject signs in as its
  user, whatever its email says today;
- a signed-in person who connects a provider links it to themselves (explicit linking);
- an unknown subject is linked to an existing user by email only when both sides proved the
  address (the user by a confirmation link or an earlier verified provider; the provider by its
  own "verified" claim);
- otherwise an existing account with that email is never merged: the person is asked to sign
  in to it first and connect from there. A new email gets a new user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Identity, User
from app.services.people.users import default_working_hours_json


class IdentityRejectedError(Exception):
    """The sign-in cannot be linked safely; the message tells the person what to do."""


@dataclass(frozen=True)
class SignedIn:
    user: User
    created: bool


def resolve(
    session: Session,
    *,
    provider: str,
    label: str,
    subject: str,
    email: str,
    email_verified: bool,
    signed_in: User | None,
    default_timezone: str,
    now: datetime,
) -> SignedIn:
    """The user this provider sign-in belongs to (linked, created or refused).

    `label` is the provider's name for people (its registry entry's label). Without a signed-in
    person, only providers that may sign people in should be asked (the caller's rule).
    """
    if not subject:
        raise IdentityRejectedError(f"{label} did not say which account signed in.")
    email = email.strip().lower()
    identity = session.scalars(
        select(Identity).where(Identity.provider == provider, Identity.subject == subject)
    ).first()
    if signed_in is not None:
        if identity is not None and identity.user_id != signed_in.id:
            raise IdentityRejectedError(
                f"This {label} account is linked to another GrowthGuard user. Sign out and "
                "sign in as that user to use it."
            )
        _remember(session, identity, signed_in, provider, subject, email, email_verified, now)
        return SignedIn(signed_in, created=False)
    if identity is not None:
        user = session.get_one(User, identity.user_id)
        _remember(session, identity, user, provider, subject, email, email_verified, now)
        return SignedIn(user, created=False)
    existing = session.scalars(select(User).where(User.email == email)).first()
    if existing is None:
        user = User(
            email=email,
            timezone=default_timezone,
            working_hours=default_working_hours_json(),
            email_verified_at=now if email_verified else None,
        )
        session.add(user)
        session.flush()
        _remember(session, None, user, provider, subject, email, email_verified, now)
        return SignedIn(user, created=True)
    if email_verified and existing.email_verified_at is not None:
        _remember(session, None, existing, provider, subject, email, email_verified, now)
        return SignedIn(existing, created=False)
    raise IdentityRejectedError(
        f"A GrowthGuard account already uses {email}, and it cannot be linked to this "
        f"{label} sign-in automatically because the address is not proven on both "
        f"sides. If the account is yours, sign in to it first (with its password), then "
        f"connect {label} from the Accounts page."
    )


def _remember(
    session: Session,
    identity: Identity | None,
    user: User,
    provider: str,
    subject: str,
    email: str,
    email_verified: bool,
    now: datetime,
) -> None:
    if identity is None:
        identity = Identity(user_id=user.id, provider=provider, subject=subject, created_at=now)
        session.add(identity)
    identity.email, identity.email_verified = email, email_verified
    if email_verified and user.email == email and user.email_verified_at is None:
        user.email_verified_at = now  # the provider proved the user's own address
    session.flush()
