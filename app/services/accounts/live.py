"""Turning an account row into a live connector (the registry's factory, credentials decrypted)."""

from __future__ import annotations

from collections.abc import Callable

from app.db.models import Account
from app.security import CredentialCipher
from connectors import registry
from connectors.base import CalendarConnector

# The connector for an account (the runtime's `connectors`; tests pass in-memory ones).
ConnectorFor = Callable[[Account], CalendarConnector]


def registry_connectors(cipher: CredentialCipher) -> ConnectorFor:
    """Build connectors from the registry; refreshed credentials are written back encrypted."""

    def provide(account: Account) -> CalendarConnector:
        factory = registry.get_factory(account.provider)
        blob = cipher.decrypt(account.credentials) if account.credentials else None

        def save(new_blob: bytes) -> None:
            account.credentials = cipher.encrypt(new_blob)

        return factory(blob, save)

    return provide
