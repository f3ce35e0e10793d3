"""Where tasks run: the in-process backend (embedded mode).

A webhook only *hints* that something changed, so many hints for the same calendar collapse
into one pending run: while a key is queued, further submissions with that key are dropped;
once it has started, one more run is queued so nothing that arrived mid-run is missed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger(__name__)


class InProcessDispatcher:
    """Runs tasks on a small thread pool, coalescing by key."""

    def __init__(self, workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gg-task")
        self._lock = threading.Lock()
        self._queued: set[str] = set()

    def submit(self, key: str, task: Callable[[], object]) -> bool:
        """Queue `task` unless a run for `key` is already waiting; True when queued."""
        with self._lock:
            if key in self._queued:
                return False
            self._queued.add(key)

        def run() -> None:
            with self._lock:
                self._queued.discard(key)
            try:
                task()
            except Exception:
                log.exception("task %s failed", key)

        future: Future[None] = self._pool.submit(run)
        del future
        return True

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
