"""Events a sync just returned, kept briefly so answering one needs no `events.get`.

A sync is followed within milliseconds by the decisions it leads to (a decline is a PATCH of
the event it returned); reading the event again would cost a call per decision. Items are
kept per (calendar, event) for `FRESH` seconds and used once. "self" in an item refers to the
calendar it appears on, so the copy is the same whichever account synced it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

FRESH = 30.0  # seconds
_MOST = 10_000

_lock = threading.Lock()
_items: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = OrderedDict()


def keep(calendar_id: str, item: dict[str, Any]) -> None:
    """Remember an event (not cancelled) a sync returned."""
    key = (calendar_id, str(item.get("id", "")))
    with _lock:
        _items[key] = (time.monotonic(), item)
        _items.move_to_end(key)
        while len(_items) > _MOST:
            _items.popitem(last=False)


def forget(calendar_id: str, event_id: str) -> None:
    """The event changed or went away."""
    with _lock:
        _items.pop((calendar_id, event_id), None)


def take(calendar_id: str, event_id: str) -> dict[str, Any] | None:
    """The event as the last sync returned it, if that was less than `FRESH` seconds ago."""
    with _lock:
        found = _items.pop((calendar_id, event_id), None)
    if found is None or time.monotonic() - found[0] > FRESH:
        return None
    return found[1]
