"""Keep the background machinery alive: restart what died, log it, and tell /readyz.

Each supervised part answers `problem()` (None when healthy) and can `restart()`. A watchdog
thread checks every `interval` seconds; `/readyz` asks `problems()` directly, so it reports a
dead scheduler at once rather than after the next check.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


class Supervised(Protocol):
    def problem(self) -> str | None: ...

    def alive(self) -> bool: ...

    def restart(self) -> None: ...


@dataclass
class Supervisor:
    """Watches named parts; restarts the ones that stopped."""

    parts: dict[str, Supervised]
    interval: float = 5.0
    restarts: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="gg-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def problems(self) -> list[str]:
        """What is wrong right now (empty when everything runs)."""
        found = [f"{name}: {p}" for name, part in self.parts.items() if (p := part.problem())]
        if self._thread is not None and not self._thread.is_alive() and not self._stop.is_set():
            found.append("supervisor: not running")
        return found

    def check(self) -> None:
        """One pass: restart every part that is not alive."""
        for name, part in self.parts.items():
            try:
                if part.alive():
                    continue
                self.restarts[name] = self.restarts.get(name, 0) + 1
                log.error("%s stopped (%s); restarting it", name, part.problem() or "not alive")
                part.restart()
                log.warning("%s restarted (restart #%d)", name, self.restarts[name])
            except Exception:
                log.exception("restarting %s failed; trying again in %ss", name, self.interval)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()
