"""Worker and scheduler processes for the scaled-mode tests, and what their logs say.

Every process writes JSON log lines to its own file; tests read them (task runs by key,
"worker ready", leadership) the way an operator's log pipeline would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WAIT = float(
    os.environ.get("GG_TEST_WAIT", "90")
)  # seconds; a bound on waiting for processes, never a timing assertion


class Process:
    """One child process with its JSON log file."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        base = {k: v for k, v in os.environ.items() if not k.startswith("GG_")}
        self._file = log.open("wb")
        self.popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**base, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=self._file,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def records(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def logged(self, text: str) -> bool:
        return any(text in str(r.get("message", "")) for r in self.records())

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._file.close()


@contextmanager
def processes() -> Iterator[list[Process]]:
    """Every process appended to the list is stopped on the way out, whatever happened."""
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in started:
            process.stop()


def start_worker(config: Path, log: Path) -> Process:
    return Process([sys.executable, "-m", "tests.scaled.worker", str(config)], log)


def wait_for(what: str, check: Callable[[], object], watch: Sequence[Process] = ()) -> None:
    """Poll `check` until true; fail with `what` (and dead processes' logs) after WAIT."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():
            return
        for process in watch:
            if process.popen.poll() not in (None, -signal.SIGKILL):
                tail = process.log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"{what}: process {process.pid} exited: {tail}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def task_runs(records: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """Finished task runs (ok or error) whose key starts with `prefix`."""
    return [r for r in records if "outcome" in r and str(r.get("task", "")).startswith(prefix)]
