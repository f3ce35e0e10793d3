"""Secrets never reach a log line, whichever logger writes them; libraries stay quiet."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from app.logsetup import configure_logging
from tests.support.log_cases import CASES


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


@pytest.mark.parametrize(("kind", "logger", "message", "secret"), CASES, ids=[c[0] for c in CASES])
def test_each_secret_kind_is_redacted(
    captured: io.StringIO, kind: str, logger: str, message: str, secret: str
) -> None:
    logging.getLogger(logger).warning(message)
    output = captured.getvalue()
    assert output, f"{kind}: nothing was logged"
    assert secret not in output, output
    assert "[redacted]" in output


def test_secrets_in_arguments_and_tracebacks_are_redacted(captured: io.StringIO) -> None:
    try:
        raise ValueError("could not post to https://hooks.slack.com/services/T1/B2/TracebackSecret")
    except ValueError:
        logging.getLogger("app").exception("failed for %s", "password=ArgSecret123")
    output = captured.getvalue()
    assert "TracebackSecret" not in output and "ArgSecret123" not in output
    assert "ValueError" in output  # the traceback is still there


def test_uvicorn_access_log_drops_query_strings(captured: io.StringIO) -> None:
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/signup/confirm?t=opaque123", "1.1", 200
    )
    output = captured.getvalue()
    assert "/signup/confirm" in output and "opaque123" not in output


def test_library_loggers_are_quiet_by_default() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("INFO", stream)
    try:
        logging.getLogger("httpx").info("HTTP Request: POST https://example.com/x")
        logging.getLogger("app").info("our own line")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        logging.getLogger("httpx").setLevel(logging.NOTSET)
    assert "HTTP Request" not in stream.getvalue() and "our own line" in stream.getvalue()


def test_a_bare_server_address_stays_readable(captured: io.StringIO) -> None:
    logging.getLogger("app.demo.service").info(
        "demo calendar (Radicale) at %s", "http://127.0.0.1:5232/"
    )
    assert "at http://127.0.0.1:5232/\n" in captured.getvalue()
