"""docker-compose.yml (scaled mode) holds together without a Docker CLI: every GrowthGuard
command parses with our CLI, every GG_ variable is a setting, the topology is complete."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.cli import _parser
from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def test_every_growthguard_command_exists_in_the_cli() -> None:
    services = _compose()["services"]
    commands = {name: s["command"] for name, s in services.items() if "build" in s}
    assert set(commands) == {"migrate", "web-1", "web-2", "worker", "scheduler"}
    for name, command in commands.items():
        assert command[0] == "growthguard", name
        args = _parser().parse_args(command[1:])  # exits (fails the test) on an unknown one
        assert callable(args.handler), name
    roles = {name: c[c.index("--role") + 1] for name, c in commands.items() if "--role" in c}
    assert roles == {"web-1": "web", "web-2": "web", "worker": "worker", "scheduler": "scheduler"}


def test_the_topology_and_its_settings() -> None:
    services = _compose()["services"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert {"postgres", "redis", "migrate", "proxy"} <= set(services)
    for name, service in services.items():
        if "build" not in service:
            continue
        environment = service["environment"]
        unknown = [
            k for k in environment if k.removeprefix("GG_").lower() not in Settings.model_fields
        ]
        assert not unknown, (name, unknown)
        assert environment["GG_DATABASE_URL"].startswith("postgresql+psycopg://"), name
        needs = service["depends_on"]
        wanted = "postgres" if name == "migrate" else "migrate"
        assert wanted in needs, name
    Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{k.removeprefix("GG_").lower(): v for k, v in services["worker"]["environment"].items()
           if k != "GG_ENV"},
    )  # fmt: skip


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="no Docker CLI with the compose plugin here; the parse tests above stand in",
)
def test_docker_compose_config_accepts_it(tmp_path: Path) -> None:
    # A copy beside a .env of its own (the file requires one; the real one holds secrets).
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text("GG_SECRET_KEY=x\n")
    result = subprocess.run(
        ["docker", "compose", "config", "--quiet"], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
