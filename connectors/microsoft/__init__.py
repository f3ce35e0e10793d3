"""Microsoft 365 / Outlook.com calendars through Microsoft Graph, signed in with MSAL.

Not registered at import time: the application calls
`registry.register("microsoft", make_factory(config))` with its settings.
"""

from connectors.microsoft.connector import MicrosoftConnector, make_factory
from connectors.microsoft.oauth import (
    SCOPES,
    AuthorizationFailed,
    MicrosoftConfig,
    MicrosoftGrant,
    TokenSource,
    finish_authorization,
    forget_tokens,
    start_authorization,
)

__all__ = [
    "SCOPES",
    "AuthorizationFailed",
    "MicrosoftConfig",
    "MicrosoftConnector",
    "MicrosoftGrant",
    "TokenSource",
    "finish_authorization",
    "forget_tokens",
    "make_factory",
    "start_authorization",
]
