"""A GrowthGuard worker process for the crash tests: books or decides, as the app's tasks do.

    python -m tests.crash.worker CONFIG.json book|decide

The parent test SIGKILLs it at a chosen provider call (from inside the fake Google server),
then runs it again to completion and counts what the kill left behind.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app import runtime as runtime_module
from app import tasks
from app.config import Environment, Settings
from app.providers import Providers
from app.runtime import build_runtime
from connectors.google.oauth import GoogleConfig


def main(config_path: str, job: str) -> int:
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env=Environment.TEST,
        database_url=config["db_url"],
        encryption_keys=config["key"],
        scheduler_enabled=False,
    )
    providers = Providers(google=GoogleConfig(**config["google"]))
    rt = build_runtime(settings, providers=providers)
    runtime_module.install(rt)
    try:
        if job == "book":
            tasks.book_plan_horizon(config["plan_id"])
        elif job == "decide":
            tasks.sync_calendar(config["calendar_id"])
        else:
            raise SystemExit(f"unknown job {job!r}")
    finally:
        rt.dispatcher.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
