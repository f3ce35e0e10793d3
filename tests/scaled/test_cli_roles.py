"""`growthguard serve --role worker` as operators run it: settings from the environment, JSON
logs, a task through the queue, and a clean stop on SIGTERM."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from app.config import Environment, Settings
from app.db.migrate import upgrade
from app.jobs import Job
from app.queue import CeleryDispatcher
from tests.scaled.harness import Process, processes, task_runs, wait_for
from tests.support.settings import TEST_KEY


def test_the_worker_command_runs_queued_tasks_and_stops_on_sigterm(
    tmp_path: Path, redis_url: str, queue_name: str
) -> None:
    db_url = f"sqlite:///{tmp_path / 'growthguard.db'}"
    upgrade(db_url)
    env = {
        "GG_ENV": "test",
        "GG_DATABASE_URL": db_url,
        "GG_ENCRYPTION_KEYS": TEST_KEY,
        "GG_BROKER_URL": redis_url,
        "GG_REDIS_URL": redis_url,
        "GG_TASK_QUEUE": queue_name,
        "GG_LOG_FORMAT": "json",
        "GG_WORKER_CONCURRENCY": "2",
    }
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env=Environment.TEST,
        broker_url=redis_url,
        redis_url=redis_url,
        task_queue=queue_name,
    )
    dispatcher = CeleryDispatcher(settings)
    try:
        with processes() as running:
            argv = [sys.executable, "-m", "app.cli", "serve", "--role", "worker"]
            worker = Process(argv, tmp_path / "worker.log", env)
            running.append(worker)
            wait_for("the worker", lambda: worker.logged("worker ready"), running)
            assert dispatcher.submit("deliver", Job("app.tasks:deliver_notifications"))
            wait_for("the task", lambda: task_runs(worker.records(), "deliver"), running)
            (run,) = task_runs(worker.records(), "deliver")
            assert run["outcome"] == "ok" and run["level"] == "INFO"
            worker.popen.send_signal(signal.SIGTERM)
            assert worker.popen.wait(timeout=60) == 0
    finally:
        dispatcher.shutdown()
