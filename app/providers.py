"""Which providers this deployment offers, as registry entries built from settings.

The rest of the application looks providers up by name in `Providers` and uses the entry's
data and functions (connect kind, finish, refresh, revoke, connector factory): it never
branches on a provider's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from app.config import Settings
from connectors import registry
from connectors.caldav.entry import entry as caldav_entry
from connectors.google.entry import entry as google_entry
from connectors.google.oauth import GoogleConfig
from connectors.microsoft.entry import entry as microsoft_entry
from connectors.microsoft.oauth import MicrosoftConfig
from connectors.registry import ConnectKind, ProviderEntry


@dataclass(frozen=True)
class CalDavOptions:
    """CalDAV needs no app registration; these only tune it."""

    timeout: float = 15.0
    allow_private: bool = True  # servers on loopback / local networks (self-hosting)
    verify_tls: bool | str = True


@dataclass(frozen=True)
class Providers:
    """The configured providers (a provider without configuration is not offered)."""

    google: GoogleConfig | None = None
    microsoft: MicrosoftConfig | None = None
    caldav: CalDavOptions | None = field(default_factory=CalDavOptions)

    @cached_property
    def entries(self) -> dict[str, ProviderEntry]:
        """Entries by name, in the order the dashboard offers them."""
        built = []
        if self.google is not None:
            built.append(google_entry(self.google))
        if self.microsoft is not None:
            built.append(microsoft_entry(self.microsoft))
        if self.caldav is not None:
            built.append(
                caldav_entry(
                    timeout=self.caldav.timeout,
                    verify_tls=self.caldav.verify_tls,
                    allow_private=self.caldav.allow_private,
                )
            )
        return {e.name: e for e in built}

    def names(self) -> list[str]:
        return list(self.entries)

    def entry(self, name: str) -> ProviderEntry | None:
        return self.entries.get(name)

    def oauth(self) -> list[ProviderEntry]:
        """Providers connected through a consent screen (and able to sign people in)."""
        return [e for e in self.entries.values() if e.kind is ConnectKind.OAUTH]

    def forms(self) -> list[ProviderEntry]:
        """Providers connected with a credentials form."""
        return [e for e in self.entries.values() if e.kind is ConnectKind.CREDENTIALS]


def providers_from_settings(settings: Settings) -> Providers:
    """Production endpoints; a provider without a client id is simply not offered."""
    google = microsoft = None
    if settings.google_enabled:
        google = GoogleConfig(
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret.get_secret_value(),
            redirect_uri=settings.redirect_uri("google"),
        )
    if settings.microsoft_enabled:
        microsoft = MicrosoftConfig(
            client_id=settings.microsoft_client_id,
            client_secret=settings.microsoft_client_secret.get_secret_value(),
            redirect_uri=settings.redirect_uri("microsoft"),
            authority=settings.microsoft_authority,
        )
    caldav = CalDavOptions(allow_private=settings.caldav_allow_private_effective)
    return Providers(google=google, microsoft=microsoft, caldav=caldav)


def register_connectors(providers: Providers) -> None:
    """Make the registry build connectors for the configured providers."""
    for entry in providers.entries.values():
        registry.register(entry.name, entry.build)


__all__ = ["CalDavOptions", "Providers", "providers_from_settings", "register_connectors"]
