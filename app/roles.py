"""The process roles of `growthguard serve --role`: web, worker, scheduler, or all.

`all` is the embedded default (web, in-process tasks and the scheduler in one process). The
scaled roles share one PostgreSQL database and one broker: any number of `web` and `worker`
processes, and any number of `scheduler` processes of which exactly one leads.
"""

from __future__ import annotations

import logging
import signal
import threading
from enum import StrEnum
from types import FrameType

from app import runtime as runtime_module
from app.config import Environment, Settings
from app.logsetup import configure_logging
from app.providers import Providers
from app.services.accounts.live import ConnectorFor

log = logging.getLogger(__name__)


class Role(StrEnum):
    WEB = "web"
    WORKER = "worker"
    SCHEDULER = "scheduler"
    ALL = "all"


def setup_logging(settings: Settings) -> None:
    """JSON lines in production (or when asked), readable lines otherwise."""
    if settings.log_format == "auto":
        as_json = settings.env is Environment.PRODUCTION
    else:
        as_json = settings.log_format == "json"
    configure_logging(settings.log_level, json=as_json)


def scaled_runtime(
    settings: Settings,
    providers: Providers | None = None,
    connectors: ConnectorFor | None = None,
) -> runtime_module.Runtime:
    """A runtime whose tasks go to the Celery queue (the web, worker and scheduler roles);
    tests and benchmarks pass fake provider endpoints or connectors."""
    from app.queue import CeleryDispatcher

    dispatcher = CeleryDispatcher(settings)
    return runtime_module.build_runtime(
        settings, providers=providers, connectors=connectors, dispatcher=dispatcher, demo=None
    )


def run_worker(
    settings: Settings,
    *,
    providers: Providers | None = None,
    connectors: ConnectorFor | None = None,
    concurrency: int | None = None,
) -> None:
    """Consume the task queue until SIGTERM (Celery's warm shutdown finishes the run at hand)."""
    from app.queue import CeleryDispatcher, run_worker

    rt = scaled_runtime(settings, providers, connectors)
    runtime_module.install(rt)
    assert isinstance(rt.dispatcher, CeleryDispatcher)
    _metrics_listener(settings)
    log.info("worker consuming queue %s", settings.task_queue)
    try:
        run_worker(rt.dispatcher.celery, settings, concurrency=concurrency)
    finally:
        rt.dispatcher.shutdown()
        runtime_module.install(None)


def run_scheduler(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Stand for scheduler leader until SIGTERM; lead (run APScheduler) while elected."""
    from app.leader import LeaderElection, SchedulerService

    rt = scaled_runtime(settings)
    runtime_module.install(rt)
    stop = stop or _stop_on_signals()
    _metrics_listener(settings)
    service = SchedulerService(rt)
    election = LeaderElection(
        settings.database_url,
        on_elected=service.lead,
        on_lost=service.stand_down,
        on_tick=service.check,
        interval=settings.leader_check_seconds,
    )
    log.info("standing for scheduler leader (check every %ss)", settings.leader_check_seconds)
    try:
        election.run(stop)
    finally:
        service.stand_down()
        rt.dispatcher.shutdown()
        runtime_module.install(None)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def _metrics_listener(settings: Settings) -> None:
    if settings.metrics_port:
        from app.metrics import start_listener

        start_listener(settings.metrics_port, settings.metrics_host)
