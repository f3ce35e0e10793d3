"""The FastAPI application and its lifespan (runtime wiring and the in-process scheduler)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app import runtime as runtime_module
from app import tasks
from app.api import (
    accounts,
    auth,
    channels,
    conflicts,
    days_off,
    growth,
    health,
    metrics,
    plans,
    policies,
    quiet,
    reports,
    sync_health,
    users,
    webhooks,
)
from app.api.errors import install_error_handlers
from app.config import get_settings
from app.db.session import transaction
from app.middleware.body_limit import BodyLimitMiddleware
from app.middleware.metrics import MetricsMiddleware
from app.middleware.request_id import RequestIdMiddleware
from app.middleware.security_headers import SecurityHeadersMiddleware
from app.runtime import Runtime, build_runtime
from app.scheduler import JobScheduler, RemoteSchedule, weekly_slots
from app.services.notifications.channels import encrypt_plaintext_targets
from app.supervise import Supervised, Supervisor
from app.web import (
    auth_pages,
    boundary,
    dashboard,
    days_off_page,
    dev_pages,
    docs_pages,
    growth_pages,
    planning,
    quiet_pages,
    report_page,
    sync_page,
)

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "web" / "static"


def create_app(
    runtime: Runtime | None = None, *, scheduler: bool | None = None, scaled: bool = False
) -> FastAPI:
    """Build the app. Without a runtime, settings come from the environment at start-up.

    `scaled` (`serve --role web`): tasks go to the Celery queue, the scheduler leader lives
    in another process, and a changed plan is handed to it (app.scheduler.RemoteSchedule)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            rt = runtime
        elif scaled:
            from app.roles import scaled_runtime

            rt = scaled_runtime(get_settings())
        else:
            rt = build_runtime(get_settings())
        app.state.runtime = rt
        runtime_module.install(rt)
        with transaction(rt.sessions) as session:  # targets stored before revision 0007
            encrypt_plaintext_targets(session, rt.cipher)
        if rt.demo is not None:
            rt.demo.start()  # the demo calendar (Radicale) lives and dies with the app
        job_scheduler = None
        if not scaled and (scheduler if scheduler is not None else rt.settings.scheduler_enabled):
            job_scheduler = JobScheduler(rt.engine)
            with rt.sessions() as session:
                slots = weekly_slots(session)
            job_scheduler.start(paused=True)
            job_scheduler.sync(slots)  # before resuming, so nothing fires on stale jobs
            job_scheduler.schedule_maintenance(
                rt.settings.poll_interval_seconds,
                rt.settings.push_enabled,
                demo_poll_seconds=rt.settings.demo_poll_seconds if rt.demo else None,
            )
            job_scheduler.resume()
        app.state.scheduler = RemoteSchedule() if scaled else job_scheduler
        parts: dict[str, Supervised] = {"dispatcher": rt.dispatcher}
        if job_scheduler is not None:
            parts["scheduler"] = job_scheduler
        supervisor = Supervisor(parts, interval=rt.settings.supervise_seconds)
        supervisor.start()
        app.state.supervisor = supervisor
        if not scaled:  # scaled: the broker redelivers, the leader re-queues stalled runs
            tasks.resume_bookings()  # runs a crash or restart interrupted
        try:
            yield
        finally:
            supervisor.stop()
            if job_scheduler is not None:
                job_scheduler.shutdown()
            rt.dispatcher.shutdown()
            if rt.demo is not None:
                rt.demo.stop()
            runtime_module.install(None)

    app = FastAPI(
        title="GrowthGuard",
        version="0.1.0",
        description="Books growth blocks into your calendar and defends them.",
        lifespan=lifespan,
        docs_url=None,  # /docs is app.web.docs_pages: Swagger UI from this server, not a CDN
        redoc_url=None,
    )
    # First: providers push at high rates, and routes are matched in order.
    app.include_router(webhooks.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(users.router)
    app.include_router(plans.router)
    app.include_router(accounts.router)
    app.include_router(sync_health.router)
    app.include_router(policies.router)
    app.include_router(conflicts.router)
    app.include_router(channels.router)
    app.include_router(quiet.router)
    app.include_router(reports.router)
    app.include_router(growth.router)
    app.include_router(days_off.router)
    app.include_router(auth.router)
    app.include_router(auth_pages.router)
    app.include_router(dashboard.router)
    app.include_router(planning.router)
    app.include_router(boundary.router)
    app.include_router(report_page.router)
    app.include_router(sync_page.router)
    app.include_router(growth_pages.router)
    app.include_router(days_off_page.router)
    app.include_router(quiet_pages.router)
    app.include_router(dev_pages.router)
    app.include_router(docs_pages.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.mount(docs_pages.ASSETS_URL, docs_pages.swagger_assets(), name="docs-assets")
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outermost: every log line of a request has it
    return app
