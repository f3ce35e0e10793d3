"""Google Calendar connector: OAuth helpers, Calendar v3 client, mapping and the connector.

Not registered at import time; the application calls
`registry.register("google", make_factory(config))` with its settings.
"""

from __future__ import annotations

from connectors.google.connector import GoogleConnector, make_factory
from connectors.google.mapping import event_id_for_slot
from connectors.google.oauth import (
    SCOPES,
    AuthorizationFailed,
    AuthorizationStart,
    GoogleConfig,
    GoogleGrant,
    MissingScopes,
    finish_authorization,
    revoke,
    start_authorization,
)

__all__ = [
    "SCOPES",
    "AuthorizationFailed",
    "AuthorizationStart",
    "GoogleConfig",
    "GoogleConnector",
    "GoogleGrant",
    "MissingScopes",
    "event_id_for_slot",
    "finish_authorization",
    "make_factory",
    "revoke",
    "start_authorization",
]
