"""The scaled mode's task backend: Celery workers, coalescing across processes in Redis.

Semantics are the in-process dispatcher's (app.dispatch), kept across any number of web
replicas and workers:

- `submit(key, job)` sets `<queue>:pending:<key>` with SET NX (value: the message id, with a
  TTL) and sends the message only when the key was free. So a burst of webhook hints for one
  calendar is one message.
- The worker deletes the key when it *starts* the run (only if it still names this message),
  so a hint that arrives mid-run queues exactly one more run, and nothing is missed.

Why a Redis key rather than a row lock: hints arrive at webhook rate on every replica; one
Redis round trip per hint adds no write load to PostgreSQL, and the TTL heals a key whose
message was lost (a broker restart without persistence) instead of blocking that calendar
forever. Running a task twice is harmless (tasks are idempotent), so the worst case of an
expired key is one extra run.

Messages are acknowledged late (after the run), so a worker that dies mid-task leaves its
message to be delivered again (Redis: after `GG_VISIBILITY_TIMEOUT_SECONDS`). A delayed
submission (a provider's Retry-After, a back-off) becomes a Celery `countdown`, capped
below the visibility timeout because the worker holds such a message unacknowledged.

Callables that are not a `Job` (closures over live objects, e.g. account mail already
rendered) cannot travel; they run on a small local pool in the submitting process.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from celery import Celery, Task

from app import metrics
from app.config import Settings
from app.dispatch import InProcessDispatcher
from app.dispatch import Task as Callable_
from app.jobs import Job

log = logging.getLogger(__name__)

RUN_TASK = "growthguard.run"
# A pending key outlives a queued message this long at most (a lost message heals then).
PENDING_TTL_SECONDS = 900
# A booking holds its plan's lock at most this long (a killed worker's lock then expires).
LOCK_SECONDS = 900.0
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def make_celery(settings: Settings) -> Celery:
    """The Celery app: late acks, one message prefetched per slot, JSON only, no results."""
    app = Celery("growthguard", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=settings.task_queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,  # a failed run is retried by the app, not redelivered
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings),
    )
    app.task(name=RUN_TASK, bind=True)(_run)
    return app


def _transport_options(settings: Settings) -> dict[str, Any]:
    visibility = settings.visibility_timeout_seconds
    short = visibility < 600
    return {
        "visibility_timeout": visibility,
        # Every broker key under the queue's name: deployments (and tests) sharing a Redis
        # never see each other's messages or unacknowledged sets.
        "global_keyprefix": f"{settings.task_queue}:",
        # kombu looks for overdue unacknowledged messages every interval x throttle seconds
        # (10 x 10 by default: fine for an hour's timeout); a short timeout is meant to be
        # short, so look every second. Its mutex outlives a holder killed mid-scan by at
        # most this long (a second scan would only deliver again: tasks are idempotent).
        "unacked_restore_interval": 1 if short else 10,
        "unacked_restore_throttle": 1 if short else 10,
        "unacked_mutex_expire": min(300, max(5, visibility)),
    }


def _run(task: Task, key: str, func: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    """The one Celery task: release the pending key, then run the named task function."""
    from app import runtime
    from app.logsetup import task_context

    dispatcher = runtime.current().dispatcher
    task_id = str(task.request.id)
    if isinstance(dispatcher, CeleryDispatcher) and key:
        dispatcher.started(key, task_id)
    job = Job(func, tuple(args), dict(kwargs))
    started = time.perf_counter()
    outcome = "error"
    with task_context(task_id, key or job.name):
        try:
            job()
            outcome = "ok"
        except Exception:
            log.exception("task %s failed", key or job.name)
            raise
        finally:
            seconds = time.perf_counter() - started
            metrics.TASK_RUNS.labels(job.name, outcome).inc()
            metrics.TASK_SECONDS.labels(job.name, outcome).observe(seconds)
            log.info(
                "task %s %s in %.3fs",
                key or job.name,
                outcome,
                seconds,
                extra={"outcome": outcome, "seconds": round(seconds, 4)},
            )


class CeleryDispatcher:
    """Sends `Job`s to Celery workers, coalescing by key in Redis (see the module docstring)."""

    def __init__(self, settings: Settings, celery: Celery | None = None) -> None:
        self.celery = celery or make_celery(settings)
        self.queue = settings.task_queue
        self.redis = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
        self._release = self.redis.register_script(_RELEASE)
        self._max_delay = settings.visibility_timeout_seconds / 2
        self._lock_seconds = min(LOCK_SECONDS, float(settings.visibility_timeout_seconds))
        self._local = InProcessDispatcher(workers=2)

    def pending_key(self, key: str) -> str:
        return f"{self.queue}:pending:{key}"

    def submit(self, key: str, task: Callable_, *, delay: float = 0.0) -> bool:
        """Queue `task` unless a run for `key` is already waiting; True when queued."""
        if not isinstance(task, Job):
            return self._local.submit(key, task, delay=delay)
        delay = min(max(delay, 0.0), self._max_delay)
        message_id = str(uuid.uuid4())
        ttl = int(delay) + PENDING_TTL_SECONDS
        if not self.redis.set(self.pending_key(key), message_id, nx=True, ex=ttl):
            return False
        try:
            self.celery.send_task(
                RUN_TASK,
                args=[key, task.func, list(task.args), task.kwargs],
                task_id=message_id,
                queue=self.queue,
                countdown=delay or None,
            )
        except Exception:
            self.redis.delete(self.pending_key(key))  # not queued: let the next hint try
            raise
        return True

    @contextmanager
    def lock(self, name: str, seconds: float | None = None) -> Iterator[None]:
        """Mutual exclusion across workers (one booking per plan at a time); it expires after
        `seconds` so a worker killed while holding it does not hold it forever. By default no
        longer than the visibility timeout: a redelivered message then finds it free."""
        seconds = seconds or self._lock_seconds
        lock = self.redis.lock(
            f"{self.queue}:lock:{name}", timeout=seconds, blocking_timeout=seconds
        )
        if not lock.acquire():
            raise TimeoutError(f"{name} stayed locked for {seconds:.0f}s")
        try:
            yield
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:  # it expired meanwhile; another may hold it
                log.warning("lock %s expired before it was released", name)

    def started(self, key: str, message_id: str) -> None:
        """A worker starts the run of `message_id`: later hints for `key` queue a new one."""
        self._release(keys=[self.pending_key(key)], args=[message_id])

    def queue_depth(self) -> int | None:
        """Messages waiting in the queue; None when the broker cannot say."""
        if self.celery.conf.broker_url.startswith(("redis://", "rediss://")):
            conn = redis.Redis.from_url(self.celery.conf.broker_url, socket_timeout=5)
            try:
                return int(conn.llen(f"{self.queue}:{self.queue}"))
            finally:
                conn.close()
        try:  # AMQP: a passive declare answers the ready message count
            with self.celery.connection_for_read() as connection:
                declared = connection.default_channel.queue_declare(self.queue, passive=True)
                return int(declared.message_count)
        except Exception:  # the queue does not exist yet, or the broker is away
            return None

    # --- supervision -----------------------------------------------------------------------

    def alive(self) -> bool:
        return self.problem() is None

    def problem(self) -> str | None:
        try:
            self.redis.ping()
        except redis.RedisError as error:
            return f"task queue unreachable: {type(error).__name__}"
        return self._local.problem()

    def restart(self) -> None:
        self._local.restart()  # Redis reconnects by itself

    def shutdown(self) -> None:
        self._local.shutdown()
        self.redis.close()


def run_worker(celery: Celery, settings: Settings, *, concurrency: int | None = None) -> None:
    """Consume the queue in this process until stopped (threads: the tasks are I/O bound and
    share this process's runtime; run one worker process per core)."""
    from celery.signals import worker_ready

    def ready(**_: object) -> None:
        log.info("worker ready: consuming queue %s", settings.task_queue)

    worker_ready.connect(ready, weak=False)
    celery.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency or settings.worker_concurrency}",
            f"--queues={settings.task_queue}",
            f"--hostname=gg-{uuid.uuid4().hex[:8]}@%h",
            "--without-gossip",
            "--without-mingle",
            f"--loglevel={settings.log_level}",  # Celery sets the root level from this
        ]
    )
