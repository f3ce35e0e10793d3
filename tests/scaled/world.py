"""A scaled-mode world: PostgreSQL, a fake Google account with a plan, a queue of its own,
and this test process wired like a web replica (tasks go to the queue)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app import runtime as runtime_module
from app.providers import Providers
from app.roles import scaled_runtime
from app.runtime import Runtime
from connectors.google.oauth import GoogleConfig
from tests.crash.harness import KEY, CrashWorld
from tests.fakes.google_server import FakeGoogle
from tests.scaled.worker import settings_of


@dataclass
class ScaledWorld:
    crash: CrashWorld
    config_path: Path
    config: dict[str, object]

    @property
    def fake(self) -> FakeGoogle:
        return self.crash.fake


@contextmanager
def scaled_world(
    folder: Path, pg_url: str, redis_url: str, queue: str, **extra: object
) -> Iterator[tuple[ScaledWorld, Runtime]]:
    """The world, and a runtime installed in this process that submits to the queue."""
    with FakeGoogle() as fake:
        crash = CrashWorld(folder, fake, db_url=pg_url).setup()
        config: dict[str, object] = {
            "db_url": pg_url,
            "key": KEY,
            "redis_url": redis_url,
            "queue": queue,
            "google": fake.endpoints(),
            **extra,
        }
        path = folder / "worker.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        settings = settings_of(config)
        rt = scaled_runtime(settings, Providers(google=GoogleConfig(**fake.endpoints())))
        runtime_module.install(rt)
        try:
            yield ScaledWorld(crash, path, config), rt
        finally:
            runtime_module.install(None)
            rt.dispatcher.shutdown()
            rt.engine.dispose()
