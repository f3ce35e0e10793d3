"""Browser sessions: a random cookie value, stored only as a hash, with an expiry."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.db.models import WebSession
from app.security import hash_token

SESSION_TTL = timedelta(days=14)


def sign_in(session: Session, user_id: int, now: datetime) -> str:
    """Start a browser session; returns the cookie value."""
    value = secrets.token_urlsafe(32)
    session.add(
        WebSession(id_hash=hash_token(value), user_id=user_id, expires_at=now + SESSION_TTL)
    )
    session.flush()
    return value


def user_id_for(session: Session, value: str, now: datetime) -> int | None:
    """The signed-in user of a cookie value, or None when unknown or expired."""
    row = session.get(WebSession, hash_token(value))
    if row is None or row.expires_at <= now:
        return None
    return row.user_id


def sign_out(session: Session, value: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == hash_token(value)))
