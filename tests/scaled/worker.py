"""`serve --role worker` for the tests: the same role code, with the fake Google server's
endpoints instead of Google's (those cannot come from the environment).

    python -m tests.scaled.worker CONFIG.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.config import Environment, Settings
from app.providers import Providers
from app.roles import run_worker, setup_logging
from connectors.google.oauth import GoogleConfig


def settings_of(config: dict[str, object]) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env=Environment.TEST,
        database_url=config["db_url"],
        encryption_keys=config["key"],
        broker_url=config.get("broker_url") or config["redis_url"],
        redis_url=config["redis_url"],
        task_queue=config["queue"],
        visibility_timeout_seconds=config.get("visibility_timeout", 3600),
        log_format="json",
        scheduler_enabled=False,
    )


def main(config_path: str) -> int:
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    settings = settings_of(config)
    setup_logging(settings)
    google = config.get("google")
    providers = Providers(google=GoogleConfig(**google)) if google else None
    run_worker(settings, providers=providers, concurrency=int(config.get("concurrency", 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
