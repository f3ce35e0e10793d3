"""Prometheus metrics: one registry per process, served by `/metrics` (web) or by a small
HTTP listener in worker and scheduler processes (`GG_METRICS_PORT`).

Labels are bounded sets (route templates, not paths; task names; provider names), so a
hostile client cannot grow the registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "gg_http_requests",
    "HTTP requests by route template and status code.",
    ["route", "status"],
    registry=REGISTRY,
)
TASK_RUNS = Counter(
    "gg_task_runs",
    "Task runs by task and outcome (ok, error).",
    ["task", "outcome"],
    registry=REGISTRY,
)
TASK_SECONDS = Histogram(
    "gg_task_duration_seconds",
    "Task run time by task and outcome.",
    ["task", "outcome"],
    registry=REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
QUEUE_DEPTH = Gauge(
    "gg_queue_depth",
    "Messages waiting in the task queue (-1 when the broker cannot say).",
    registry=REGISTRY,
)
PROVIDER_CALLS = Counter(
    "gg_provider_calls",
    "Calendar provider calls by provider and status (ok or the error type).",
    ["provider", "status"],
    registry=REGISTRY,
)
DECISIONS = Counter(
    "gg_decisions",
    "Conflict decisions by action.",
    ["action"],
    registry=REGISTRY,
)
WEBHOOK_REJECTIONS = Counter(
    "gg_webhook_rejections",
    "Webhook notifications refused, by reason.",
    ["reason"],
    registry=REGISTRY,
)
SCHEDULER_LEADER = Gauge(
    "gg_scheduler_leader",
    "1 while this process holds the scheduler leadership, else 0.",
    registry=REGISTRY,
)


def start_listener(port: int, host: str) -> None:
    """Serve this process's metrics on host:port (worker and scheduler roles)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=REGISTRY)
