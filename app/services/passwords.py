"""Local sign-in with email and password (Argon2id, via argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import User
from app.services.errors import ConflictError, InvalidInputError
from app.services.users import create_user

MIN_LENGTH = 12
_hasher = PasswordHasher()  # library defaults follow the RFC 9106 recommendations


def check_password(password: str) -> None:
    """Length is what matters most; no composition rules (NIST SP 800-63B)."""
    if len(password) < MIN_LENGTH:
        raise InvalidInputError([("password", f"use at least {MIN_LENGTH} characters")])
    if len(password) > 1024:
        raise InvalidInputError([("password", "use at most 1024 characters")])


def sign_up(session: Session, email: str, password: str, timezone: str) -> User:
    """Create a local user with a password (for CalDAV-only people)."""
    check_password(password)
    existing = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if existing is not None:
        raise ConflictError("an account with this email exists; sign in instead")
    user, _ = create_user(session, email, timezone)
    user.password_hash = _hasher.hash(password)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user whose password this is, or None (same answer for unknown email and bad password)."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None or user.password_hash is None:
        _hasher.hash(password)  # spend the same time, so timing does not reveal who exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user
