"""The image's recipe: production by default, a pinned base, and the app's data in the wheel."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_defaults_to_production_on_a_pinned_base():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^\s*GG_ENV=production", dockerfile, re.MULTILINE)
    bases = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert len(bases) == 1
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", bases[0])
    assert all(line.split()[1] == "${PYTHON_IMAGE}" for line in _froms(dockerfile))


def _froms(dockerfile: str) -> list[str]:
    return [line for line in dockerfile.splitlines() if line.startswith("FROM ")]


def test_every_template_static_file_and_migration_is_declared_as_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = config["tool"]["setuptools"]["package-data"]
    declared = [(package, pattern) for package, patterns in data.items() for pattern in patterns]
    needed = [
        *(ROOT / "app/web/templates").glob("*.html"),
        *(ROOT / "app/web/static").glob("*"),
        *(ROOT / "app/db/migrations/versions").glob("*.py"),
        ROOT / "app/db/migrations/env.py",
        ROOT / "app/db/migrations/script.py.mako",
    ]
    for path in needed:
        covered = any(
            path.match(str(ROOT / package.replace(".", "/") / pattern))
            for package, pattern in declared
        )
        assert covered, f"{path.relative_to(ROOT)} would be missing from the wheel"
