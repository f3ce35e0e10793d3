"""What a connector just read or wrote, kept briefly in memory so it need not ask again.

A sync is followed within milliseconds by the decisions it leads to (a decline answers an
invite the sync returned); a write is followed by its echo in the next sync (the block we
created comes back). Asking the provider again in either case costs a call that says
nothing new. `Recent` is a bounded, thread-safe map whose entries may expire; connectors
keep one per kind of memory at module level, so connector instances (one per use) share it.
A miss only costs the call it would have cost anyway.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

FRESH = 30.0  # seconds a synced copy stands in for the live event


class Recent(Generic[V]):
    """A bounded LRU map; entries older than `fresh` seconds (None: never) are misses."""

    def __init__(self, fresh: float | None = FRESH, most: int = 10_000) -> None:
        self.fresh = fresh
        self._most = most
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    def keep(self, key: Hashable, value: V) -> None:
        """Remember `value` under `key` (the oldest entry goes when full)."""
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self._most:
                self._items.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        """The thing changed or went away."""
        with self._lock:
            self._items.pop(key, None)

    def take(self, key: Hashable) -> V | None:
        """The value if still fresh, removed: it answers one question only."""
        with self._lock:
            found = self._items.pop(key, None)
        return self._fresh(found)

    def peek(self, key: Hashable) -> V | None:
        """The value if still fresh, kept."""
        with self._lock:
            found = self._items.get(key)
        return self._fresh(found)

    def _fresh(self, found: tuple[float, V] | None) -> V | None:
        if found is None:
            return None
        if self.fresh is not None and time.monotonic() - found[0] > self.fresh:
            return None
        return found[1]
