"""Who signs in to the end-to-end app backed by the fake Microsoft 365 servers, their zone,
and the identity host the browser is sent to."""

from __future__ import annotations

from zoneinfo import ZoneInfo

USER = "ben@contoso.example"
BERLIN = ZoneInfo("Europe/Berlin")
LOGIN = "login.microsoftonline.com"
