"""Planned failures, the same for every fake (Google, Graph, the CalDAV proxy, the receivers).

    fake.faults.fail_next(3, status=429, retry_after=90, path="/events")
    proxy.faults.fail_next(None, status=403, method="REPORT", body_has="sync-collection")

A fake asks `faults.take(method, path, body)` before a request takes any effect and, when a
fault is due, answers it in its own protocol's shape (Google's or Graph's error JSON, a bare
HTTP status, an SMTP reply code).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fault", "Faults"]


@dataclass
class Fault:
    """The next `count` matching requests (every one while `count` is None) fail with `status`."""

    count: int | None
    status: int
    retry_after: float | None = None
    path: str = ""  # a part of the path; "" matches every path
    method: str | None = None  # only requests of this method
    body_has: str = ""  # only requests whose body holds this
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # None: the fake's usual error body for `status`
    hang: float = 0.0  # seconds to wait before answering (a server that does not answer)

    def matches(self, method: str, path: str, body: bytes) -> bool:
        return (
            self.method in (None, method) and self.path in path and self.body_has.encode() in body
        )

    def response_headers(self) -> dict[str, str]:
        """`headers`, with Retry-After when the fault has one."""
        if self.retry_after is None:
            return dict(self.headers)
        return {**self.headers, "Retry-After": f"{self.retry_after:g}"}


class Faults:
    """A fake's planned failures, first planned first used; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._planned: list[Fault] = []

    def fail_next(
        self,
        n: int | None = 1,
        *,
        status: int = 503,
        retry_after: float | None = None,
        path: str = "",
        method: str | None = None,
        body_has: str = "",
        headers: dict[str, str] | None = None,
        body: Any = None,
        hang: float = 0.0,
    ) -> Fault:
        """Fail the next `n` matching requests (`None`: all of them until `clear()`)."""
        fault = Fault(
            n, status, retry_after, path, method, body_has, dict(headers or {}), body, hang
        )
        with self._lock:
            self._planned.append(fault)
        return fault

    def clear(self) -> None:
        """Forget the faults planned and not used up."""
        with self._lock:
            self._planned.clear()

    def take(self, method: str, path: str, body: bytes = b"") -> Fault | None:
        """The fault this request meets (used up by one), after its `hang`; None: no fault."""
        with self._lock:
            fault = next((f for f in self._planned if f.matches(method, path, body)), None)
            if fault is not None and fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self._planned.remove(fault)
        if fault is not None and fault.hang:
            time.sleep(fault.hang)
        return fault
