"""The stored CalDAV credential: where the account lives, who signs in, and as which addresses.

The blob GrowthGuard keeps (encrypted by the caller) is JSON. It holds the app password, so its
repr never shows it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from connectors.errors import ReauthRequired

__all__ = ["CalDavCredentials", "dump", "load"]


@dataclass(frozen=True)
class CalDavCredentials:
    """`url` is the principal URL found at connect time (no discovery on every call).

    `auth_type` is "basic" (sent pre-emptively: Cyrus answers anonymous requests with 207, not
    401) or None (let the library answer the server's challenge, e.g. Digest).
    `addresses` are the person's calendar-user addresses (lowercase emails): how their own
    ATTENDEE line is found on an invite.
    """

    url: str
    username: str
    password: str = field(repr=False)
    auth_type: str | None = "basic"
    addresses: tuple[str, ...] = ()
    verify_tls: bool | str = True  # or a CA bundle path

    def with_addresses(self, extra: tuple[str, ...]) -> CalDavCredentials:
        merged = tuple(dict.fromkeys(a.lower() for a in (*self.addresses, *extra) if a))
        return replace(self, addresses=merged)


def dump(credentials: CalDavCredentials) -> bytes:
    """The blob to store (encrypted) for an account."""
    return json.dumps(
        {
            "v": 1,
            "url": credentials.url,
            "username": credentials.username,
            "password": credentials.password,
            "auth_type": credentials.auth_type,
            "addresses": list(credentials.addresses),
            "verify_tls": credentials.verify_tls,
        },
        sort_keys=True,
    ).encode()


def load(blob: bytes | None) -> CalDavCredentials:
    """Credentials from a stored blob; ReauthRequired when there is none or it is unreadable."""
    if blob is None:
        raise ReauthRequired("no CalDAV password stored; connect the calendar again")
    try:
        data = json.loads(blob)
        return CalDavCredentials(
            url=str(data["url"]),
            username=str(data["username"]),
            password=str(data["password"]),
            auth_type=data.get("auth_type"),
            addresses=tuple(str(a) for a in data.get("addresses") or ()),
            verify_tls=data.get("verify_tls", True),
        )
    except (ValueError, KeyError, TypeError):
        raise ReauthRequired("the stored CalDAV credentials are unreadable") from None
