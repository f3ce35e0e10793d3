"""Production logs are JSON lines with the request or task id, and just as free of secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from app.config import Environment, Settings
from app.logsetup import REQUEST_ID, configure_logging, task_context
from app.roles import setup_logging
from tests.support.log_cases import CASES


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", stream, json=True)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(("kind", "logger", "message", "secret"), CASES, ids=[c[0] for c in CASES])
def test_each_secret_kind_is_redacted_in_json(
    json_lines: io.StringIO, kind: str, logger: str, message: str, secret: str
) -> None:
    logging.getLogger(logger).warning(message)
    (record,) = _records(json_lines)
    assert secret not in json_lines.getvalue(), kind
    assert "[redacted]" in record["message"]


def test_arguments_tracebacks_and_extra_fields_are_redacted(json_lines: io.StringIO) -> None:
    try:
        raise ValueError("could not post to https://hooks.slack.com/services/T1/B2/TracebackSecret")
    except ValueError:
        logging.getLogger("app").exception(
            "failed for %s", "password=ArgSecret123", extra={"target": "Bearer ExtraSecret99"}
        )
    output = json_lines.getvalue()
    for secret in ("TracebackSecret", "ArgSecret123", "ExtraSecret99"):
        assert secret not in output
    (record,) = _records(json_lines)
    assert "ValueError" in record["exc_info"] and record["level"] == "ERROR"


def test_records_carry_the_request_or_task_id(json_lines: io.StringIO) -> None:
    token = REQUEST_ID.set("req-12345678")
    try:
        logging.getLogger("app").info("serving")
    finally:
        REQUEST_ID.reset(token)
    with task_context("task-1", "sync:4:0:0"):
        logging.getLogger("app").info("syncing")
    logging.getLogger("app").info("idle")
    serving, syncing, idle = _records(json_lines)
    assert serving["request_id"] == "req-12345678" and "task_id" not in serving
    assert (syncing["task_id"], syncing["task"]) == ("task-1", "sync:4:0:0")
    assert "request_id" not in idle and "task_id" not in idle
    assert idle["time"].endswith("+00:00")


@pytest.mark.parametrize(
    ("env", "log_format", "as_json"),
    [
        ("production", "auto", True),
        ("development", "auto", False),
        ("development", "json", True),
        ("production", "text", False),
    ],
)
def test_json_in_production_readable_in_development(
    env: str, log_format: str, as_json: bool
) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env=Environment(env),
        secret_key="s" * 40,
        encryption_keys="p0tAk3Cq3LAd1FQm0x2YF3fNGhW6iSl7n5vQbWmZ0bA=",
        log_format=log_format,
    )
    try:
        setup_logging(settings)
        (handler,) = root.handlers
        stream = io.StringIO()
        handler.setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("app").warning("hello")
        line = stream.getvalue().strip()
        assert line.startswith("{") is as_json
        if not as_json:
            assert line.endswith("WARNING app hello")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
