"""Logging: one handler whose filter redacts secrets from every record, quiet libraries.

The filter rewrites each record's message (and traceback) before any handler formats it, so a
secret never reaches a log line whichever logger wrote it: OAuth codes and tokens, one-click
and sign-up link tokens, Authorization headers, passwords, API and webhook secrets, Fernet keys
and ciphertexts, client secrets, CalDAV app passwords (in URLs, forms, JSON, the stored blob)
and Slack or other webhook URLs (kept to scheme and host).

Production writes one JSON object per line (python-json-logger) with the request or task id
from the current context; development writes readable lines. Both pass the same filter, and
the JSON formatter redacts the tracebacks it renders itself.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

REDACTED = "[redacted]"

# Libraries that log every request URL (httpx at INFO) or token details (msal at DEBUG).
QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "urllib3",
    "requests_oauthlib",
    "oauthlib",
    "googleapiclient",
    "google_auth_httplib2",
    "google.auth",
    "msal",
    "apscheduler",
    "caldav",
    "slack_sdk",
    "niquests",
    "urllib3_future",
    "radicale",
    "celery",
    "kombu",
)

_SECRET_PARAMS = (
    "code|sig|signature|t|token|state|access_token|refresh_token|id_token|client_secret|"
    "code_verifier|password|passwd|secret|validationToken|clientState|key|api_key|session_state"
)
_RULES: list[tuple[re.Pattern[str], str]] = [
    # Authorization headers, in any of the shapes they get logged in.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"), rf"\1{REDACTED}"),
    # Cookies (session ids) in header dumps and Set-Cookie lines.
    (re.compile(r"(?i)\b(gg_session|gg_browser)=[^;\s'\"]+"), rf"\1={REDACTED}"),
    (re.compile(r"(?i)(b?['\"](?:set-)?cookie['\"],\s*b?['\"])[^'\"]+"), rf"\1{REDACTED}"),
    # Credentials inside a URL (a CalDAV server typed as https://user:app-password@host/, a
    # demo calendar URL with its login): never kept, not even the user name.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,15}://)[^/\s@\"'<>]+@"), rf"\1{REDACTED}@"),
    # Absolute URLs: keep scheme and host; path and query may be a credential (Slack webhooks).
    # A bare trailing "/" is none (the demo calendar's address stays readable at start-up).
    (re.compile(r"(?i)\b(https?://[^/\s?#\"'<>]+)[/?#][^\s\"'<>]+"), rf"\1/{REDACTED}"),
    # Query strings and form bodies of relative URLs: name=value for secret-carrying names.
    (re.compile(rf"(?i)(?<![A-Za-z0-9_])({_SECRET_PARAMS})=[^&\s\"'#]+"), rf"\1={REDACTED}"),
    # JSON or repr of secret-named keys.
    (
        re.compile(
            rf"(?i)([\"']({_SECRET_PARAMS}|password_hash|credentials)[\"']\s*:\s*[\"'])[^\"']+"
        ),
        rf"\1{REDACTED}",
    ),
    # Token shapes that may appear bare.
    (re.compile(r"\bgg(?:wh)?_[A-Za-z0-9_-]{16,}"), f"gg_{REDACTED}"),  # API and webhook secrets
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"), REDACTED),  # Fernet ciphertext (sign-up links)
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+"), REDACTED),  # JWTs, itsdangerous
    (re.compile(r"\bya29\.[A-Za-z0-9_-]+"), REDACTED),  # Google access tokens
    (re.compile(r"\b1//[A-Za-z0-9_-]+"), REDACTED),  # Google refresh tokens
    (re.compile(r"\b4/0[A-Za-z0-9_-]+"), REDACTED),  # Google authorization codes
    (re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]+"), REDACTED),  # Slack tokens (quiet mode)
    (
        re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=(?![A-Za-z0-9_=-])"),
        REDACTED,
    ),  # Fernet keys
    (re.compile(r"\$argon2id?\$[^\s\"']+"), REDACTED),  # password hashes
]


def redact(text: str) -> str:
    """`text` with every secret shape replaced by [redacted]."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message and traceback with secrets redacted; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log what we have, redacted
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class AccessQueryFilter(logging.Filter):
    """uvicorn's access log without query strings (they carry OAuth codes and link tokens)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gg_request_id", default=None
)
TASK_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("gg_task_id", default=None)
TASK_NAME: contextvars.ContextVar[str | None] = contextvars.ContextVar("gg_task", default=None)


@contextmanager
def task_context(task_id: str, name: str) -> Iterator[None]:
    """Log records written inside carry this task's id and name."""
    tokens = TASK_ID.set(task_id), TASK_NAME.set(name)
    try:
        yield
    finally:
        TASK_ID.reset(tokens[0])
        TASK_NAME.reset(tokens[1])


class ContextFilter(logging.Filter):
    """Adds request_id / task_id / task to each record that was written in such a context."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", REQUEST_ID), ("task_id", TASK_ID), ("task", TASK_NAME)):
            value = var.get()
            if value is not None:
                setattr(record, name, value)
        return True


_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class RedactingJsonFormatter(JsonFormatter):
    """JSON lines; tracebacks it renders itself go through `redact` like every message."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # Fields passed with `extra=` never went through the filter: redact them here.
        return {k: redact(v) if isinstance(v, str) else v for k, v in log_data.items()}

    def formatException(self, ei: _ExcInfo) -> str | list[str]:  # type: ignore[override]
        return _redact_lines(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str | list[str]:  # type: ignore[override]
        return _redact_lines(super().formatStack(stack_info))


def _redact_lines(text: str | list[str]) -> str | list[str]:
    # python-json-logger renders a traceback as one string, or as lines when asked to.
    return redact(text) if isinstance(text, str) else [redact(line) for line in text]


def json_formatter() -> logging.Formatter:
    return RedactingJsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",  # ISO 8601 in UTC
    )


def configure_logging(
    level: str = "INFO", stream: TextIO | None = None, *, json: bool = False
) -> logging.Handler:
    """Install the redacting handler on the root logger (JSON lines with `json`); returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if json:
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(quiet, logging.getLogger(name).level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own dictConfig gives these handlers that bypass ours; route them to root
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)  # `serve` passes its level to uvicorn, which sets it
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessQueryFilter) for f in access.filters):
        access.addFilter(AccessQueryFilter())
    return handler
