"""The test tree's layout (issue 13): helpers live in tests/support, so no file under tests/
imports a conftest (tests.conftest, tests.browser.conftest, ...: a conftest holds fixtures and
hooks, which pytest finds by itself) or a test_* module (importing one runs its tests' module
twice and hides which helpers are shared)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def forbidden(module: str) -> bool:
    """True for any conftest module and any `test_*` module."""
    last = module.rsplit(".", 1)[-1]
    return last == "conftest" or last.startswith("test_")


def imported_modules(source: str) -> list[str]:
    """Every module an `import` or `from ... import` statement names, submodules included."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.append(base)
            # `from tests.integration import test_booking` imports the test module itself
            found.extend(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_the_checker_catches_each_form():
    bad = [
        "from tests.conftest import FakeClock",
        "import tests.conftest",
        "from tests.browser.conftest import Journey",
        "from tests.e2e import conftest",
        "from .conftest import site",
        "from tests.integration.test_booking import berlin",
        "from tests.integration import test_booking",
        "from .test_sync import invite",
        "import tests.unit.test_logsetup as logs",
    ]
    for source in bad:
        assert any(forbidden(m) for m in imported_modules(source)), source
    good = "from tests.support.booking import berlin\nimport tests.support.world\n"
    assert not any(forbidden(m) for m in imported_modules(good))


def test_no_file_under_tests_imports_a_conftest_or_a_test_module():
    offenders = [
        f"{path.relative_to(TESTS.parent)}: {module}"
        for path in sorted(TESTS.rglob("*.py"))
        for module in imported_modules(path.read_text(encoding="utf-8"))
        if forbidden(module)
    ]
    assert offenders == []
