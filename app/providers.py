"""Provider configuration (Google, Microsoft) built from settings, and connector registration."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings
from connectors import registry
from connectors.google.connector import make_factory as google_factory
from connectors.google.oauth import GoogleConfig
from connectors.microsoft.connector import make_factory as microsoft_factory
from connectors.microsoft.oauth import MicrosoftConfig


@dataclass(frozen=True)
class Providers:
    """Which providers this deployment can connect to, and how to reach them."""

    google: GoogleConfig | None = None
    microsoft: MicrosoftConfig | None = None

    def names(self) -> list[str]:
        return [name for name in ("google", "microsoft") if getattr(self, name) is not None]


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
    return Providers(google=google, microsoft=microsoft)


def register_connectors(providers: Providers) -> None:
    """Make the registry build connectors for the configured providers."""
    if providers.google is not None:
        registry.register("google", google_factory(providers.google))
    if providers.microsoft is not None:
        registry.register("microsoft", microsoft_factory(providers.microsoft))
