"""Signed links that act without signing in: expiring (itsdangerous) and single-use.

A link names what it may do (its purpose and payload, e.g. user, conflict and choice) and is
signed with the server secret; using it records its id, so a second use is refused.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import UsedLink


class LinkRejectedError(Exception):
    """The link cannot be used; the message is safe to show to whoever holds it."""


def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=f"growthguard.{purpose}")


def make(secret: str, purpose: str, payload: dict[str, Any]) -> str:
    """A signed token carrying `payload` and a fresh link id."""
    return str(_serializer(secret, purpose).dumps({**payload, "id": secrets.token_hex(16)}))


def read(secret: str, purpose: str, token: str, max_age: timedelta) -> dict[str, Any]:
    """The payload of a valid, unexpired token; LinkRejectedError otherwise."""
    try:
        payload = _serializer(secret, purpose).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        raise LinkRejectedError("This link has expired.") from None
    except BadSignature:
        raise LinkRejectedError("This link is not valid.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
        raise LinkRejectedError("This link is not valid.")
    return payload


def was_used(session: Session, payload: dict[str, Any]) -> bool:
    return session.get(UsedLink, str(payload["id"])) is not None


def use_once(
    session: Session, purpose: str, payload: dict[str, Any], now: datetime, max_age: timedelta
) -> None:
    """Record the link as used; LinkRejectedError when it was used before."""
    if was_used(session, payload):
        raise LinkRejectedError("This link was already used.")
    try:
        with session.begin_nested():  # a concurrent second use loses on the primary key
            session.add(
                UsedLink(
                    link_id=str(payload["id"]),
                    purpose=purpose,
                    used_at=now,
                    expires_at=now + max_age,
                )
            )
    except IntegrityError:
        raise LinkRejectedError("This link was already used.") from None


def forget_expired(session: Session, now: datetime) -> int:
    """Drop records of used links that have expired anyway (they cannot be replayed)."""
    result = session.execute(delete(UsedLink).where(UsedLink.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
