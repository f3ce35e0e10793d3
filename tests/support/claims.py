"""Letting the weekly booking claims settle."""

from __future__ import annotations

import time

from app.runtime import Runtime
from app.services.booking import jobs as booking_jobs


def _settle(rt: Runtime, *, leave: frozenset[int] = frozenset()) -> None:
    """Wait until the queued booking runs finished (none may still write after the test)."""
    deadline = time.monotonic() + 30
    while True:
        with rt.sessions() as session:
            busy = [r.id for r in booking_jobs.unfinished(session) if r.id not in leave]
        if not busy:
            return
        assert time.monotonic() < deadline, f"booking runs {busy} did not finish"
        time.sleep(0.05)
