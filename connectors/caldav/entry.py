"""The CalDAV registry entry: a credentials form (server or email, username, app password)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from connectors.caldav.connect import finish, reach_of, refresh
from connectors.caldav.connector import make_factory
from connectors.registry import ConnectKind, FormField, Grant, ProviderEntry

__all__ = ["GUIDES", "entry"]

GUIDES = (
    (
        "Nextcloud",
        "URL https://your.cloud/remote.php/dav, your Nextcloud login, and an app password "
        "(Settings, Security, Devices & sessions). Replies reach organizers.",
    ),
    (
        "Fastmail",
        "URL https://caldav.fastmail.com/ (or just your email address), your email as "
        "username, and an app password with CalDAV access (Settings, Privacy & Security, "
        "Integrations). Replies reach organizers.",
    ),
    (
        "iCloud",
        "URL https://caldav.icloud.com/, your Apple ID email, and an app-specific password "
        "(account.apple.com, Sign-In and Security; needs two-factor authentication). Replies "
        "reach organizers.",
    ),
    (
        "Radicale",
        "URL of your server, e.g. http://localhost:5232/, and the user and password from its "
        "users file. Radicale only stores your reply: organizers are not told.",
    ),
)

FIELDS = (
    FormField(
        "server",
        "Server URL or email address",
        kind="text",
        help="e.g. https://cloud.example.org/remote.php/dav, or you@fastmail.com",
        autocomplete="url",
    ),
    FormField(
        "username",
        "Username",
        required=False,
        help="often your email address",
        autocomplete="username",
    ),
    FormField("password", "App password", kind="password", autocomplete="current-password"),
)


def entry(
    *, timeout: float = 15.0, verify_tls: bool | str = True, allow_private: bool = False
) -> ProviderEntry:
    """CalDAV as a provider; `allow_private` lets people connect servers on local networks."""

    def finish_form(context: Mapping[str, Any], fields: Mapping[str, str]) -> Grant:
        return finish(
            context, fields, timeout=timeout, verify_tls=verify_tls, allow_private=allow_private
        )

    def revoke(blob: bytes) -> None:
        del blob  # CalDAV cannot revoke an app password; the stored copy is deleted

    return ProviderEntry(
        name="caldav",
        label="CalDAV calendar",
        kind=ConnectKind.CREDENTIALS,
        build=make_factory(timeout=timeout, reach=reach_of(allow_private)),
        finish=finish_form,
        revoke=revoke,
        refresh=partial(refresh, timeout=timeout, allow_private=allow_private),
        fields=FIELDS,
        guides=GUIDES,
    )
