"""Explicit map from provider name to connector factory.

Only "memory" is registered by default (an in-memory demo account, see `connectors.memory`);
the application registers the real providers at startup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from connectors.base import CalendarConnector, SaveCredentials
from connectors.memory import memory_factory

__all__ = ["ConnectorFactory", "get_factory", "providers", "register"]

ConnectorFactory = Callable[[bytes | None, SaveCredentials], CalendarConnector]
"""Builds a connector from a credential blob (None for providers without one) and a callback
that persists refreshed credentials."""

_lock = threading.Lock()
_factories: dict[str, ConnectorFactory] = {}


def register(provider: str, factory: ConnectorFactory) -> None:
    """Map `provider` to `factory`, replacing any earlier factory (tests swap in fakes)."""
    with _lock:
        _factories[provider] = factory


def get_factory(provider: str) -> ConnectorFactory:
    """The factory for `provider`; KeyError naming the known providers if there is none."""
    with _lock:
        try:
            return _factories[provider]
        except KeyError:
            known = ", ".join(sorted(_factories)) or "none"
            raise KeyError(f"unknown calendar provider {provider!r} (known: {known})") from None


def providers() -> list[str]:
    """Registered provider names, sorted."""
    with _lock:
        return sorted(_factories)


register("memory", memory_factory)
