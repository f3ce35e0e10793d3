"""Who signs in to the end-to-end app backed by the fake Google server, and their zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

USER = "ann@corp.example"
BERLIN = ZoneInfo("Europe/Berlin")
