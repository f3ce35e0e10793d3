"""Errors services raise; the API maps them to status codes in one place."""

from __future__ import annotations


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
