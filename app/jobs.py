"""A task call that can cross a process boundary: a function's import path and plain args.

The in-process dispatcher simply calls it; the Celery dispatcher sends the path and args to a
worker, which resolves and calls the same function. So both modes run the same task code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Only our own task modules may be named in a message (a broker is not a place to trust).
ALLOWED_MODULES = frozenset({"app.tasks"})


@dataclass(frozen=True)
class Job:
    """`app.tasks:function` with JSON-able positional and keyword arguments."""

    func: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> object:
        return resolve(self.func)(*self.args, **self.kwargs)

    @property
    def name(self) -> str:
        return self.func.rsplit(":", 1)[-1]


def resolve(path: str) -> Callable[..., object]:
    """The task function named `module:function`; ValueError for anything else."""
    module_name, _, attribute = path.partition(":")
    public = attribute.isidentifier() and not attribute.startswith("_")
    if module_name not in ALLOWED_MODULES or not public:
        raise ValueError(f"not a GrowthGuard task: {path!r}")
    function = getattr(importlib.import_module(module_name), attribute, None)
    # Defined there, not merely imported there (`app.tasks:select` is no task).
    if not callable(function) or getattr(function, "__module__", None) != module_name:
        raise ValueError(f"not a GrowthGuard task: {path!r}")
    return function  # type: ignore[no-any-return]
