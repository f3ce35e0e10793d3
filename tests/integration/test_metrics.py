"""`/metrics` (issue 14): who may read it, and that requests, webhook rejections, provider
calls and tasks are counted with bounded labels."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.db.models import Account
from app.dispatch import InProcessDispatcher
from app.jobs import Job
from app.main import create_app
from app.metrics import REGISTRY
from app.runtime import Runtime
from app.services.accounts.failures import tagged
from connectors.base import CalendarInfo
from connectors.errors import NotFound
from connectors.memory import MemoryConnector
from connectors.memory_store import MemoryStore


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_need_the_token_or_a_loopback_client(runtime: Runtime) -> None:
    app = create_app(runtime, scheduler=False)
    with TestClient(app) as remote:
        answer = remote.get("/metrics")
        assert answer.status_code == 403 and "GG_METRICS_TOKEN" in answer.json()["detail"]
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        assert local.get("/metrics").status_code == 200
    runtime.settings = runtime.settings.model_copy(update={"metrics_token": SecretStr("s3cret")})
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        assert local.get("/metrics").status_code == 401  # a token, once set, is required
        assert local.get("/metrics", headers={"authorization": "Bearer nope"}).status_code == 401
        answer = local.get("/metrics", headers={"authorization": "Bearer s3cret"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")


def test_requests_are_counted_by_route_template_and_status(runtime: Runtime) -> None:
    before = _value("gg_http_requests_total", route="/plans/{plan_id}", status="401")
    missing = _value("gg_http_requests_total", route="unmatched", status="404")
    rejected = _value("gg_webhook_rejections_total", reason="unknown_provider")
    with TestClient(create_app(runtime, scheduler=False), client=("127.0.0.1", 1)) as client:
        for plan_id in (1, 2, 3):
            assert client.get(f"/plans/{plan_id}").status_code == 401
        assert client.get("/no/such/page").status_code == 404
        assert client.post("/webhooks/nosuch", content=b"{}").status_code == 404
        answer = client.get("/healthz")
        assert len(answer.headers["x-request-id"]) == 32  # and every request gets an id
        text = client.get("/metrics").text
    assert _value("gg_http_requests_total", route="/plans/{plan_id}", status="401") == before + 3
    assert _value("gg_http_requests_total", route="unmatched", status="404") == missing + 1
    assert _value("gg_webhook_rejections_total", reason="unknown_provider") == rejected + 1
    assert 'route="/plans/1"' not in text  # raw paths never become labels


def test_provider_calls_are_counted_by_provider_and_status() -> None:
    store = MemoryStore()
    store.add_calendar(CalendarInfo(id="primary", name="me", primary=True))
    connector = tagged(lambda account: MemoryConnector(store))(
        Account(id=7, provider="memory", external_id="me")
    )
    ok = _value("gg_provider_calls_total", provider="memory", status="ok")
    gone = _value("gg_provider_calls_total", provider="memory", status="NotFound")
    connector.list_calendars()
    with pytest.raises(NotFound):
        connector.delete_block("no-such-calendar", "x")
    assert _value("gg_provider_calls_total", provider="memory", status="ok") == ok + 1
    assert _value("gg_provider_calls_total", provider="memory", status="NotFound") == gone + 1


def test_in_process_task_runs_are_counted_by_task_and_outcome(runtime: Runtime) -> None:
    dispatcher = InProcessDispatcher(workers=1)
    ok = _value("gg_task_runs_total", task="deliver_notifications", outcome="ok")
    failed = _value("gg_task_runs_total", task="mail", outcome="error")
    reached = threading.Event()

    def fails() -> None:
        reached.set()
        raise ValueError("mail server down")

    try:
        assert dispatcher.submit("deliver", Job("app.tasks:deliver_notifications"))
        assert dispatcher.submit("mail:42", fails)  # a closure: named by its key
        assert reached.wait(30)  # one thread: the job ran before it
    finally:
        dispatcher.shutdown()  # waits for the run at hand
    assert _value("gg_task_runs_total", task="deliver_notifications", outcome="ok") == ok + 1
    assert _value("gg_task_runs_total", task="mail", outcome="error") == failed + 1
    seconds = _value("gg_task_duration_seconds_count", task="mail", outcome="error")
    assert seconds >= 1
