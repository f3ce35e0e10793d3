"""Users, their working hours and personal API tokens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import Account, ApiToken, User
from app.domain.plan import DEFAULT_WORKING_HOURS
from app.domain.time import WEEKDAYS, TimeRange, Weekday, resolve_zone
from app.security import hash_token, new_api_token
from app.services.errors import ConflictError, InvalidInputError, NotFoundError

WorkingHours = dict[Weekday, list[TimeRange]]


def parse_working_hours(raw: Mapping[str, Sequence[str]], field: str) -> WorkingHours:
    """Validate {"mon": ["09:00-17:00"], ...}; problems name the field and weekday."""
    hours: WorkingHours = {}
    problems: list[tuple[str, str]] = []
    for day, ranges in raw.items():
        if day not in WEEKDAYS:
            problems.append((f"{field}.{day}", f"unknown weekday {day!r}; use mon..sun"))
            continue
        parsed: list[TimeRange] = []
        for text in ranges:
            try:
                parsed.append(TimeRange.parse(text))
            except ValueError as error:
                problems.append((f"{field}.{day}", str(error)))
        hours[day] = parsed
    if problems:
        raise InvalidInputError(problems)
    return hours


def working_hours_of(user: User) -> WorkingHours:
    """The user's stored working hours as domain values."""
    return parse_working_hours(user.working_hours, "working_hours")


def default_working_hours_json() -> dict[str, list[str]]:
    return {day: [str(r) for r in ranges] for day, ranges in DEFAULT_WORKING_HOURS.items()}


def create_user(
    session: Session,
    email: str,
    timezone: str,
    working_hours: Mapping[str, Sequence[str]] | None = None,
    *,
    with_token: bool = True,
) -> tuple[User, str]:
    """Create a user (and a first API token, shown once; "" without one).

    For trusted callers (tests, the command line, confirmed sign-ups): it does not prove the
    email. Strangers go through `app.services.people.signup`.
    """
    try:
        resolve_zone(timezone)
    except ValueError as error:
        raise InvalidInputError([("timezone", str(error))]) from None
    raw = dict(working_hours) if working_hours is not None else default_working_hours_json()
    parse_working_hours(raw, "working_hours")
    user = User(
        email=email.strip().lower(),
        timezone=timezone,
        working_hours={k: list(v) for k, v in raw.items()},
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ConflictError(f"a user with email {email!r} already exists") from None
    token = issue_token(session, user, FIRST_TOKEN_NAME) if with_token else ""
    return user, token


TOKEN_NAME_MAX = 100
FIRST_TOKEN_NAME = "first token (sign-up)"


def issue_token(session: Session, user: User, name: str) -> str:
    """Create a personal API token; only its hash is stored. Names are unique per user."""
    name = name.strip()
    if not name:
        raise InvalidInputError([("name", "give the token a name, e.g. the script that uses it")])
    if len(name) > TOKEN_NAME_MAX:
        raise InvalidInputError([("name", f"use at most {TOKEN_NAME_MAX} characters")])
    taken = session.scalar(
        select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.name == name)
    )
    if taken is not None:
        raise InvalidInputError([("name", f"you already have a token called “{name}”")])
    token = new_api_token()
    session.add(ApiToken(user_id=user.id, name=name, token_hash=hash_token(token)))
    session.flush()
    return token


def user_for_token(session: Session, token: str, now: datetime) -> User | None:
    """The user a bearer token belongs to, or None."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None:
        return None
    row.last_used_at = now
    return session.get(User, row.user_id)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("user")
    return user


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    """The user's personal API tokens (hashes only; the token itself was shown once)."""
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )


def get_token(session: Session, user: User, token_id: int) -> ApiToken:
    """One of the user's tokens (NotFoundError for anyone else's)."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFoundError("token")
    return token


def revoke_token(session: Session, user: User, token_id: int) -> None:
    token = get_token(session, user, token_id)
    session.delete(token)
    session.flush()


def user_domains(session: Session, user: User) -> frozenset[str]:
    """The person's own domains (their email and connected accounts): "external" is the rest."""
    accounts = session.scalars(select(Account.external_id).where(Account.user_id == user.id))
    emails = [user.email, *accounts]
    return frozenset(e.rsplit("@", 1)[-1].lower() for e in emails if "@" in e)
