"""Local sign-in with email and password (Argon2id, via argon2-cffi), with bounded work.

Each Argon2 hash or verification takes ~64 MiB and tens of milliseconds of CPU by design, so
parallel attempts could exhaust memory: at most `MAX_PARALLEL_HASHES` run at once, and the rest
wait their turn (the rate limiter stops floods long before the queue grows).
"""

from __future__ import annotations

import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import User
from app.services.errors import InvalidInputError

MIN_LENGTH = 12
MAX_LENGTH = 1024
MAX_PARALLEL_HASHES = 2
_hasher = PasswordHasher()  # library defaults follow the RFC 9106 recommendations
_slots = threading.BoundedSemaphore(MAX_PARALLEL_HASHES)


def check_password(password: str, field: str = "password") -> None:
    """Length is what matters most; no composition rules (NIST SP 800-63B)."""
    if len(password) < MIN_LENGTH:
        raise InvalidInputError([(field, f"use at least {MIN_LENGTH} characters")])
    if len(password) > MAX_LENGTH:
        raise InvalidInputError([(field, f"use at most {MAX_LENGTH} characters")])


def hash_password(password: str) -> str:
    """An Argon2id hash (bounded concurrency)."""
    with _slots:
        return _hasher.hash(password)


def spend_hash_time() -> None:
    """Do the work of one hash for nothing, so timing does not tell which path was taken."""
    hash_password(secrets.token_urlsafe(16))


def set_password(user: User, password: str) -> None:
    """Give a user a (new) local password."""
    check_password(password)
    user.password_hash = hash_password(password)


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user whose password this is, or None (same answer for unknown email and bad password)."""
    if len(password) > MAX_LENGTH:
        return None
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None or user.password_hash is None:
        spend_hash_time()
        return None
    try:
        with _slots:
            _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user
