"""app/services, app/api and app/web never branch on, or name, a calendar provider.

Providers are data (registry entries, `app.providers`). This reads the source of those
packages (Python through its syntax tree, templates as text) and fails on:

- a comparison with a provider name: `provider == "google"`, `account.provider in (...)`,
  `match provider: case "caldav"`;
- a provider name inside any string literal (route paths, messages, dictionary keys);
- an import of a provider's package (`connectors.google`, ...);
- a provider name in a template.

Docstrings may mention providers (they are prose, not behaviour).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [ROOT / "app" / name for name in ("services", "api", "web")]
PROVIDERS = ("google", "microsoft", "caldav", "outlook", "graph", "radicale", "xandikos")
NAME = re.compile(r"(?<![a-z0-9])(" + "|".join(PROVIDERS) + r")(?![a-z0-9])", re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def violations_in_python(source: str, where: str = "<source>") -> list[str]:
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings and NAME.search(node.value):
                found.append(f"{where}:{line}: provider name in a string: {node.value!r}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            modules += [alias.name for alias in node.names]
            for module in modules:
                if re.match(r"connectors\.(" + "|".join(PROVIDERS) + r")\b", module):
                    found.append(f"{where}:{line}: imports a provider package: {module}")
        elif isinstance(node, ast.Attribute | ast.Name):
            name = node.attr if isinstance(node, ast.Attribute) else node.id
            if NAME.fullmatch(name):
                found.append(f"{where}:{line}: provider-named identifier: {name}")
    return found


def violations_in_template(text: str, where: str) -> list[str]:
    return [
        f"{where}:{n}: provider name in a template: {line.strip()[:80]}"
        for n, line in enumerate(text.splitlines(), 1)
        if NAME.search(line)
    ]


def _all_violations() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            found += violations_in_python(path.read_text(encoding="utf-8"), rel)
        for path in sorted(package.rglob("*.html")):
            rel = str(path.relative_to(ROOT))
            found += violations_in_template(path.read_text(encoding="utf-8"), rel)
    return found


def test_services_api_and_web_name_no_provider() -> None:
    assert _all_violations() == []


def test_the_packages_are_really_scanned() -> None:
    scanned = [p for package in PACKAGES for p in package.rglob("*.py")]
    assert len(scanned) > 20  # an empty or wrong path would make the check idle


@pytest.mark.parametrize(
    "source",
    [
        'if provider == "google":\n    pass\n',
        'if account.provider in ("microsoft", "x"):\n    pass\n',
        'match provider:\n    case "caldav":\n        pass\n',
        'URL = "/webhooks/google"\n',
        'LABELS = {"microsoft": "Outlook"}\n',
        "from connectors.google import oauth\n",
        "import connectors.caldav.connect\n",
        "x = providers.google\n",
        "def f():\n    return google_oauth.revoke()\n" + "google = 1\n",
    ],
)
def test_the_check_catches_branches_and_names(source: str) -> None:
    assert violations_in_python(source), source


def test_the_check_allows_docstrings_and_neutral_code() -> None:
    source = (
        '"""Connects Google, Microsoft and CalDAV accounts."""\n'
        "def f(entry):\n"
        '    """Works for Google too."""\n'
        '    return entry.label + " connected"\n'
    )
    assert violations_in_python(source) == []


def test_the_check_reads_templates() -> None:
    assert violations_in_template('{% if "google" in providers %}', "t.html")
    assert violations_in_template('<a href="/auth/microsoft/start">', "t.html")
    assert not violations_in_template('<a href="/auth/{{ entry.name }}/start">', "t.html")
