"""The fake clock and the memory provider side that tests wire into the runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.db.models import Account
from connectors.base import CalendarConnector, CalendarInfo
from connectors.memory import MemoryConnector
from connectors.memory_store import MemoryStore


@dataclass
class FakeClock:
    """A settable clock: tests move time explicitly."""

    now: datetime = field(default_factory=lambda: datetime(2027, 1, 11, 8, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class MemoryWorld:
    """The provider side for tests: one MemoryStore per connected account."""

    stores: dict[str, MemoryStore] = field(default_factory=dict)

    def store(self, external_id: str) -> MemoryStore:
        if external_id not in self.stores:
            store = MemoryStore()
            store.add_calendar(CalendarInfo(id="primary", name=external_id, primary=True))
            self.stores[external_id] = store
        return self.stores[external_id]

    def provider(self) -> Callable[[Account], CalendarConnector]:
        def provide(account: Account) -> CalendarConnector:
            return MemoryConnector(self.store(account.external_id), owner_email=account.external_id)

        return provide
