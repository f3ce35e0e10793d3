"""Where tasks run: the `Dispatcher` seam and its in-process backend (embedded mode).

The scaled mode's backend, Celery workers with the same coalescing across processes, is
`app.queue.CeleryDispatcher`.

A webhook only *hints* that something changed, so many hints for the same calendar collapse
into one pending run: while a key is queued, further submissions with that key are dropped;
once it has started, one more run is queued so nothing that arrived mid-run is missed.

`submit(..., delay=s)` queues a run for later: this is how tasks retry a provider that is down
or throttling, instead of sleeping in a worker thread. A timer thread hands due runs to the
pool; `alive()` and `restart()` let the supervisor keep both going.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from app import metrics
from app.logsetup import task_context

log = logging.getLogger(__name__)

Task = Callable[[], object]


class Dispatcher(Protocol):
    """Runs tasks off the caller's thread, coalescing by key (see the module docstring)."""

    def submit(self, key: str, task: Task, *, delay: float = 0.0) -> bool: ...

    def alive(self) -> bool: ...

    def problem(self) -> str | None: ...

    def restart(self) -> None: ...

    def shutdown(self) -> None: ...


class InProcessDispatcher:
    """Runs tasks on a small thread pool, coalescing by key; delayed runs wait on a timer."""

    def __init__(self, workers: int = 4, clock: Callable[[], float] = time.monotonic) -> None:
        self._workers = workers
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queued: set[str] = set()
        self._timers: list[tuple[float, int, str, Task]] = []
        self._order = itertools.count()
        self._stopped = False
        self._pool = self._new_pool()
        self._timer = self._new_timer()

    def _new_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="gg-task")

    def _new_timer(self) -> threading.Thread:
        thread = threading.Thread(target=self._timer_loop, name="gg-task-timer", daemon=True)
        thread.start()
        return thread

    def submit(self, key: str, task: Task, *, delay: float = 0.0) -> bool:
        """Queue `task` unless a run for `key` is already waiting; True when queued."""
        with self._lock:
            if self._stopped or key in self._queued:
                return False
            self._queued.add(key)
            if delay > 0:
                heapq.heappush(self._timers, (self._clock() + delay, next(self._order), key, task))
                self._wake.notify()
                return True
        self._start(key, task)
        return True

    def pending(self) -> list[tuple[str, float]]:
        """Delayed runs: (key, seconds until due)."""
        now = self._clock()
        with self._lock:
            return [(key, max(due - now, 0.0)) for due, _, key, _ in sorted(self._timers)]

    def _start(self, key: str, task: Task) -> None:
        def run() -> None:
            with self._lock:
                self._queued.discard(key)
            name = str(getattr(task, "name", "") or key.split(":", 1)[0])  # a bounded label
            started, outcome = time.perf_counter(), "error"
            with task_context(uuid.uuid4().hex, key):
                try:
                    task()
                    outcome = "ok"
                except Exception:
                    log.exception("task %s failed", key)
                finally:
                    seconds = time.perf_counter() - started
                    metrics.TASK_RUNS.labels(name, outcome).inc()
                    metrics.TASK_SECONDS.labels(name, outcome).observe(seconds)

        try:
            self._pool.submit(run)
        except RuntimeError:  # the pool was shut down under us: forget the key, say so
            with self._lock:
                self._queued.discard(key)
            log.error("task %s dropped: the task pool is stopped", key)

    def _timer_loop(self) -> None:
        while True:
            with self._lock:
                while not self._stopped and (
                    not self._timers or self._timers[0][0] > self._clock()
                ):
                    timeout = self._timers[0][0] - self._clock() if self._timers else None
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                _, _, key, task = heapq.heappop(self._timers)
            self._start(key, task)

    # --- supervision -----------------------------------------------------------------------

    def alive(self) -> bool:
        """The timer thread runs and the pool takes work."""
        return (
            not self._stopped
            and self._timer.is_alive()
            and not getattr(self._pool, "_shutdown", False)
            and not getattr(self._pool, "_broken", False)
        )

    def problem(self) -> str | None:
        if self.alive():
            return None
        return "task dispatcher is stopped" if self._stopped else "task dispatcher is not running"

    def restart(self) -> None:
        """Bring back a dead timer thread or a broken pool (delayed runs are kept)."""
        with self._lock:
            if self._stopped:
                return
        if getattr(self._pool, "_shutdown", False) or getattr(self._pool, "_broken", False):
            self._pool = self._new_pool()
        if not self._timer.is_alive():
            self._timer = self._new_timer()

    def shutdown(self) -> None:
        with self._lock:
            self._stopped = True
            self._timers.clear()
            self._wake.notify_all()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._timer.join(timeout=5)
