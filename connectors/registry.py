"""Providers as data: how each one connects, finishes, refreshes, revokes and builds a connector.

Two maps, both explicit:

- connector factories by provider name (`register`, `get_factory`): what builds a live
  connector from a stored credential blob. Only "memory" is registered by default (an
  in-memory demo account, see `connectors.memory`); the application registers the rest.
- `ProviderEntry` values, one per provider, describing the connect flow. The application
  builds them from its settings (each provider package has an `entry(...)` function) and
  never branches on a provider's name.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import CalendarConnector, SaveCredentials
from connectors.errors import ConnectorError
from connectors.memory import memory_factory
from connectors.push import PushParser

__all__ = [
    "BOOK_ONLY",
    "FULL",
    "AccessModeInfo",
    "ConnectKind",
    "ConnectRefused",
    "ConnectorFactory",
    "FormField",
    "Grant",
    "MissingPermissions",
    "OAuthStart",
    "ProviderEntry",
    "get_factory",
    "providers",
    "register",
]

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


# --- the connect flow, as data ----------------------------------------------------------------


class ConnectKind(enum.StrEnum):
    OAUTH = "oauth"  # redirect to the provider's consent screen, come back to a callback
    CREDENTIALS = "credentials"  # a form (server, username, app password)


class ConnectRefused(ConnectorError):
    """Connecting failed for a reason the person can act on; `field` names the form field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class MissingPermissions(ConnectRefused):
    """The person did not grant everything needed (granular consent)."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__("not granted: " + ", ".join(missing))


FULL = "full"
BOOK_ONLY = "book_only"


@dataclass(frozen=True)
class AccessModeInfo:
    """One way to connect a provider: the scopes asked for and, in plain words, what
    GrowthGuard can and cannot do with them (shown on the connect page)."""

    name: str  # FULL or BOOK_ONLY
    label: str
    scopes: tuple[str, ...]
    can: tuple[str, ...]
    cannot: tuple[str, ...]
    note: str = ""  # what the provider itself does or does not enforce


@dataclass(frozen=True)
class Grant:
    """What a finished connect yields.

    `credentials` is the blob to store encrypted; `subject` is the provider's stable id of the
    person (Google `sub`, Microsoft `tid:oid`, a CalDAV principal URL), never an email;
    `account_key` tells two accounts of one person at one provider apart.
    """

    credentials: bytes = field(repr=False)
    email: str
    email_verified: bool
    subject: str
    account_key: str
    display_name: str
    access_mode: str = FULL  # the mode whose scopes were asked for and granted

    @classmethod
    def by_email(
        cls,
        credentials: bytes,
        email: str,
        email_verified: bool,
        subject: str,
        access_mode: str = FULL,
    ) -> Grant:
        """An account named by its sign-in address (OAuth providers): the address,
        lower-cased, is also its key and its name."""
        address = email.lower()
        return cls(credentials, address, email_verified, subject, address, address, access_mode)


@dataclass(frozen=True)
class OAuthStart:
    """Where to send the browser; `secrets` (state, PKCE verifier...) stay server-side."""

    url: str
    state: str
    secrets: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class FormField:
    """One field of a credentials form."""

    name: str
    label: str
    kind: str = "text"  # an <input type>: text, url, email, password
    required: bool = True
    help: str = ""
    autocomplete: str = "off"


Finish = Callable[[Mapping[str, Any], Mapping[str, str]], Grant]
"""(server-side context, callback parameters or form fields) -> Grant; raises ConnectRefused.

For OAuth the context is the `OAuthStart.secrets` kept since `begin` (including the access
mode asked for); for a credentials form it holds the signed-in person's `email`."""

Begin = Callable[[str], OAuthStart]
"""Start an OAuth connect in an access mode (FULL or BOOK_ONLY): the consent URL and the
secrets to keep; only the mode's scopes are asked for."""


@dataclass(frozen=True)
class ProviderEntry:
    """Everything the application needs to offer, connect and run one provider."""

    name: str
    label: str  # "Google Calendar", shown to people
    kind: ConnectKind
    build: ConnectorFactory
    finish: Finish
    # Revoke the grant where the provider can (Google), else only forget it (Microsoft, CalDAV);
    # best effort: the caller deletes the blob either way.
    revoke: Callable[[bytes], None]
    refresh: Callable[[bytes], bytes]  # a fresh blob, or ReauthRequired
    begin: Begin | None = None  # OAuth only
    # The ways to connect (OAuth providers offering a least-privilege mode list two).
    access_modes: tuple[AccessModeInfo, ...] = ()
    sign_in: bool = False  # may sign a person in (and create the user) by verified email
    requires_verified_email: bool = False
    fields: tuple[FormField, ...] = ()  # credentials form only
    guides: tuple[tuple[str, str], ...] = ()  # (server, short help) shown by the form
    push: PushParser | None = None  # parses the provider's push requests, when it pushes
