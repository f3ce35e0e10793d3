"""The layering holds: read from the source with `ast`, nothing is imported.

- `app/domain` imports no I/O library and reads no clock (callers inject `now`);
- `connectors` import nothing from `app`;
- routers (`app/api`, `app/web`) build no SQL queries (`select`/`update`/`delete`);
- routers never call `.commit()`: one transaction per request (`app/deps.py`), and work that
  must see the request's writes is queued as a background task, which runs after the commit;
- `app/api` does not import `app/web`;
- no import cycles among `app` modules (module-level imports only: an import inside a
  function is a deliberate lazy import and does not run at import time).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

IO_MODULES = (
    "sqlalchemy",
    "httpx",
    "requests",
    "urllib3",
    "fastapi",
    "starlette",
    "socket",
    "urllib.request",
    "http.client",
    "redis",
    "aio_pika",
    "pika",
    "subprocess",
    "app.db",
    "app.services",
    "app.api",
    "app.web",
    "app.tasks",
    "connectors",
)
CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
}
QUERY_NAMES = {"select", "update", "delete", "insert"}

# Known violations still to be moved, as (file or module, what it does), each with a comment
# saying why. None are left; the list may only shrink: a violation not listed here fails the
# test, and so does an entry that no longer occurs.
ALLOWED: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    @property
    def rel(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


def _modules(package: str) -> list[Module]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found.append(Module(".".join(parts), path, tree))
    return found


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module name an ImportFrom reads from (resolving relative imports)."""
    if not node.level:
        return node.module or ""
    is_package = module.path.name == "__init__.py"
    base = module.name.split(".")
    drop = node.level - 1 if is_package else node.level
    base = base[: len(base) - drop] if drop else base
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: Module) -> Iterator[tuple[str, str]]:
    """(imported module, imported name or "") for every import anywhere in the module."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                yield source, alias.name


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(module: Module) -> Iterator[tuple[str, str]]:
    """Module-level imports that run at import time (not in defs, not under TYPE_CHECKING)."""
    stack: list[ast.stmt] = list(module.tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.If | ast.Try):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    stack.append(child)
            if isinstance(node, ast.Try):
                for handler in node.handlers:
                    stack.extend(handler.body)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                yield source, alias.name


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _domain_violations(modules: list[Module]) -> set[tuple[str, str]]:
    found = set()
    for module in modules:
        for source, _name in _imports(module):
            for io in IO_MODULES:
                if _within(source, io):
                    found.add((module.rel, f"imports {source}"))
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name | ast.Attribute)
            ):
                owner = node.func.value
                owner_name = owner.id if isinstance(owner, ast.Name) else owner.attr
                if (owner_name, node.func.attr) in CLOCK_CALLS:
                    found.add((module.rel, f"reads the clock: {owner_name}.{node.func.attr}()"))
    return found


def _connector_violations(modules: list[Module]) -> set[tuple[str, str]]:
    found = set()
    for module in modules:
        for source, _name in _imports(module):
            if _within(source, "app"):
                found.add((module.rel, f"imports {source}"))
    return found


def _query_violations(modules: list[Module]) -> set[tuple[str, str]]:
    found = set()
    for module in modules:
        sqlalchemy_aliases = set()
        for source, name in _imports(module):
            if _within(source, "sqlalchemy") and name in QUERY_NAMES:
                found.add((module.rel, f"imports {name} from {source}"))
            if source == "sqlalchemy" and not name:
                sqlalchemy_aliases.add("sqlalchemy")
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "sqlalchemy":
                        sqlalchemy_aliases.add(alias.asname or alias.name)
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in QUERY_NAMES
                and isinstance(node.value, ast.Name)
                and node.value.id in sqlalchemy_aliases
            ):
                found.add((module.rel, f"uses {node.value.id}.{node.attr}"))
    return found


def _commit_violations(modules: list[Module]) -> set[tuple[str, str]]:
    found = set()
    for module in modules:
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "commit"
            ):
                found.add((module.rel, f"commits (line {node.lineno})"))
    return found


def _api_to_web_violations(modules: list[Module]) -> set[tuple[str, str]]:
    found = set()
    for module in modules:
        for source, name in _imports(module):
            target = f"{source}.{name}" if source == "app" and name else source
            if _within(target, "app.web"):
                found.add((module.rel, f"imports {target}"))
    return found


def _import_graph(modules: list[Module]) -> dict[str, set[str]]:
    names = {m.name for m in modules}
    graph: dict[str, set[str]] = {m.name: set() for m in modules}
    for module in modules:
        for source, name in _runtime_imports(module):
            if not _within(source, "app"):
                continue
            # `from app.web import render` reads app.web; `from app.web import forms` reads
            # the submodule app.html.forms (which runs app.web first, but that is not a cycle
            # by itself).
            target = f"{source}.{name}" if name and f"{source}.{name}" in names else source
            if target in names and target != module.name:
                graph[module.name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _cycle_violations(modules: list[Module]) -> set[tuple[str, str]]:
    return {
        (component[0], "import cycle: " + " <-> ".join(component))
        for component in _cycles(_import_graph(modules))
    }


def _all_violations() -> set[tuple[str, str]]:
    return (
        _domain_violations(_modules("app/domain"))
        | _connector_violations(_modules("connectors"))
        | _query_violations(_modules("app/api") + _modules("app/web"))
        | _commit_violations(_modules("app/api") + _modules("app/web"))
        | _api_to_web_violations(_modules("app/api"))
        | _cycle_violations(_modules("app"))
    )


def _report(items: set[tuple[str, str]]) -> str:
    return "\n".join(f"  {path}: {what}" for path, what in sorted(items))


def test_layers_hold() -> None:
    new = _all_violations() - ALLOWED
    assert not new, "layering violations:\n" + _report(new)


def test_allow_list_only_names_live_violations() -> None:
    stale = ALLOWED - _all_violations()
    assert not stale, "fixed violations still in ALLOWED (delete them):\n" + _report(stale)


def _fake(name: str, source: str) -> Module:
    return Module(name, ROOT / (name.replace(".", "/") + ".py"), ast.parse(source))


def test_the_checks_are_not_blind() -> None:
    """Each check flags a synthetic module that breaks its rule, and passes a clean one."""
    clock = _fake("app.domain.fake", "import datetime\nx = datetime.datetime.now()\n")
    io = _fake("app.domain.fake", "from ..db.models import Plan\n")
    assert _domain_violations([clock]) == {
        ("app/domain/fake.py", "reads the clock: datetime.now()")
    }
    assert _domain_violations([io]) == {("app/domain/fake.py", "imports app.db.models")}
    assert _domain_violations([_fake("app.domain.fake", "import math\n")]) == set()

    assert _connector_violations([_fake("connectors.fake", "from app.config import x\n")])

    router = _fake("app.api.fake", "import sqlalchemy as sa\nq = sa.update(T)\n")
    assert _query_violations([router]) == {("app/api/fake.py", "uses sa.update")}
    router = _fake("app.api.fake", "from sqlalchemy import select, text\n")
    assert _query_violations([router]) == {("app/api/fake.py", "imports select from sqlalchemy")}
    router = _fake("app.web.fake", "def act(page):\n    page.session.commit()\n")
    assert _commit_violations([router]) == {("app/web/fake.py", "commits (line 2)")}
    assert _commit_violations([_fake("app.web.fake", "session.rollback()\n")]) == set()
    assert _api_to_web_violations([_fake("app.api.fake", "from app import web\n")])
    assert _api_to_web_violations([_fake("app.api.fake", "from ..web import render\n")])

    a = _fake("app.a", "from app import b\n")
    b = _fake("app.b", "import app.a\ndef f():\n    from app import c\n")
    c = _fake("app.c", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import app.b\n")
    assert _cycle_violations([a, b, c]) == {("app.a", "import cycle: app.a <-> app.b")}
    assert _cycle_violations([b, c]) == set()


def test_the_real_sources_are_read() -> None:
    """The checks see this repository's modules and their imports (a wrong root finds none)."""
    graph = _import_graph(_modules("app"))
    assert "app.db.models" in graph["app.services.planning.plans"]
    assert "app.html" in graph["app.api.conflicts"]
    assert len(_modules("app/domain")) >= 5 and len(_modules("connectors")) >= 5


# Services are grouped by capability (accounts/, booking/, conflicts/, ...); only what every
# group shares may sit at the top: the errors the API maps, the calendar-write audit log, and
# signed single-use links (sign-up, conflict choices, growth pages).
SHARED_SERVICE_MODULES = {"__init__.py", "errors.py", "audit.py", "links.py"}


def _flat_service_modules(folder: Path) -> set[str]:
    return {path.name for path in folder.glob("*.py")} - SHARED_SERVICE_MODULES


def test_services_are_grouped_by_capability(tmp_path: Path) -> None:
    """app/services holds packages, plus only the shared modules named above."""
    services = ROOT / "app" / "services"
    assert not _flat_service_modules(services), "group these into a package in app/services"
    assert len([p for p in services.iterdir() if (p / "__init__.py").exists()]) >= 5
    (tmp_path / "errors.py").touch()
    (tmp_path / "booking.py").touch()
    assert _flat_service_modules(tmp_path) == {"booking.py"}
