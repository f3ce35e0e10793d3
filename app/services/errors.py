"""Errors services raise; the API maps them to status codes in one place.

`owned` reads a row on behalf of a person: theirs, or NotFoundError.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from sqlalchemy.orm import Session


class ServiceError(Exception):
    """Base class."""


class NotFoundError(ServiceError):
    """The object does not exist, or belongs to somebody else (never reveal which)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")


class InvalidInputError(ServiceError):
    """Input that parsed but makes no sense; each problem names its field."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))


class ConflictError(ServiceError):
    """The request collides with existing state (e.g. an email already registered)."""


class MalformedRequestError(InvalidInputError):
    """The request itself is malformed (e.g. a forged form value), not a field to correct: 400."""


class _Owned(Protocol):
    @property
    def user_id(self) -> int: ...


_Row = TypeVar("_Row", bound=_Owned)


def owned(session: Session, model: type[_Row], row_id: int, user_id: int, what: str) -> _Row:
    """The `model` row `row_id` if it belongs to `user_id`; otherwise NotFoundError(`what`):
    a missing row and someone else's answer alike, so ids reveal nothing."""
    row = session.get(model, row_id)
    if row is None or row.user_id != user_id:
        raise NotFoundError(what)
    return row
