"""Copy a test database's rows and a memory world, and put them back.

Building a realistic state through the API (sign-ups, bookings, syncs) costs about half a
second; putting the same rows back costs a few milliseconds. Tests that each need the same
starting state build it once, snapshot it, and restore it before every test, so each test
still starts from exactly that state and passes alone.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table

from app.db.models import Base
from connectors.memory_store import MemoryStore


@dataclass(frozen=True)
class Rows:
    """Every row of every mapped table, in an order that satisfies foreign keys."""

    tables: tuple[tuple[Table, tuple[dict[str, Any], ...]], ...]

    @classmethod
    def read(cls, engine: Engine) -> Rows:
        """Rows in primary-key order: PostgreSQL returns updated rows in another order."""
        tables = []
        with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                ordered = table.select().order_by(*table.primary_key.columns)
                rows = connection.execute(ordered).mappings()
                tables.append((table, tuple(dict(row) for row in rows)))
        return cls(tuple(tables))

    def count(self) -> int:
        return sum(len(rows) for _, rows in self.tables)

    def by_table(self) -> dict[str, tuple[dict[str, Any], ...]]:
        return {table.name: rows for table, rows in self.tables}

    def write(self, engine: Engine) -> None:
        """Insert the rows into empty tables (the ids are kept, so references hold)."""
        with engine.begin() as connection:
            for table, rows in self.tables:
                if rows:
                    connection.execute(table.insert(), [dict(row) for row in rows])


def copy_store(store: MemoryStore) -> MemoryStore:
    """An independent copy of a memory account (its lock is new, not shared)."""
    with store.lock:
        state = {name: value for name, value in vars(store).items() if name != "lock"}
        copied = copy.deepcopy(state)
    twin = MemoryStore.__new__(MemoryStore)
    vars(twin).update(copied)
    twin.lock = threading.RLock()
    return twin
