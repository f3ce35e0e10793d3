"""Connecting a CalDAV account: find it (URL, or RFC 6764 from an email or domain), sign in,
check it has event calendars. Every failure says what to fix, next to the field to fix.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import niquests
from caldav.davclient import DAVClient
from caldav.lib import error as dav_error

from connectors.caldav.client import CalDavClient, CalendarProps
from connectors.caldav.credentials import CalDavCredentials, dump, load
from connectors.errors import (
    ConnectorError,
    NotFound,
    PermissionDenied,
    ReauthRequired,
    TransientError,
)
from connectors.netpolicy import (
    PUBLIC_ONLY,
    AddressRefused,
    Reach,
    Resolver,
    classify,
    parse_address,
    refused_kind,
    system_resolver,
)
from connectors.registry import ConnectRefused, Grant

__all__ = ["Connected", "connect", "finish", "reach_of", "refresh"]


@dataclass(frozen=True)
class Connected:
    credentials: CalDavCredentials
    calendars: list[CalendarProps]


def reach_of(allow_private: bool) -> Reach:
    """Self-hosting: servers on this machine or the local network, when the deployment allows."""
    return Reach(loopback=True, private=True) if allow_private else PUBLIC_ONLY


def connect(
    server: str,
    username: str,
    password: str,
    *,
    timeout: float = 15.0,
    verify_tls: bool | str = True,
    allow_private: bool = False,
    resolve: Resolver = system_resolver,
) -> Connected:
    """Find and sign in to the account; ConnectRefused (with the field to fix) otherwise."""
    server, username = server.strip(), username.strip()
    if not server:
        raise ConnectRefused("Enter the server URL, or your email address.", field="server")
    if len(server) > 500 or len(username) > 320 or len(password) > 1000:
        raise ConnectRefused("That is too long to be a server, username or password.")
    if not password:
        raise ConnectRefused("Enter the app password.", field="password")
    if "://" not in server and not username and "@" in server:
        username = server  # an email as server: it is usually the login too
    if not username:
        raise ConnectRefused("Enter your username (often your email address).", field="username")
    url = _url_of(server, verify_tls, timeout)
    reach = reach_of(allow_private)
    _check_destination(url, reach, resolve)
    attempts = [url]
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        attempts.append(f"{parts.scheme}://{parts.netloc}/.well-known/caldav")
    last: ConnectRefused | None = None
    for candidate in attempts:
        try:
            return _sign_in(candidate, username, password, timeout, verify_tls, reach, resolve)
        except ConnectRefused as refused:
            if refused.field != "server":
                raise
            last = refused
    assert last is not None
    raise last


def _url_of(server: str, verify_tls: bool | str, timeout: float) -> str:
    if "://" in server:
        if not server.lower().startswith(("http://", "https://")):
            raise ConnectRefused("The URL must start with https://", field="server")
        if "@" in urlsplit(server).netloc:
            # A password in the URL would be stored, shown and logged with it.
            raise ConnectRefused(
                "Put the username and app password in their own fields, not in the URL.",
                field="server",
            )
        return server
    # An email address or a domain: RFC 6764 (SRV/TXT records, then /.well-known/caldav).
    try:
        probe = DAVClient(
            url=server, timeout=int(timeout), ssl_verify_cert=verify_tls, enable_rfc6764=True
        )
    except (dav_error.DAVError, niquests.exceptions.RequestException, ValueError) as failure:
        raise ConnectRefused(
            f"No CalDAV service could be found for {server!r} ({type(failure).__name__}); "
            "enter the server's URL instead.",
            field="server",
        ) from None
    return str(probe.url)


def _check_destination(url: str, reach: Reach, resolve: Resolver) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = resolve(host, parts.port or 443)
    except (OSError, UnicodeError):
        raise ConnectRefused(
            f"The server name {host!r} could not be found; check the URL.", field="server"
        ) from None
    refused = refused_kind(addresses, reach)
    if refused is not None:
        raise ConnectRefused(_not_reached(host, refused[0]), field="server")
    public = [a for a in addresses if classify(parse_address(a)) == "public"]
    if url.lower().startswith("http://") and public:
        raise ConnectRefused(
            "Use an https:// URL: GrowthGuard does not send your password unencrypted.",
            field="server",
        )


def _not_reached(host: str, kind: str) -> str:
    if kind in ("loopback", "private"):
        return (
            f"{host} is a private or local address; this GrowthGuard only connects to public "
            "calendar servers."
        )
    return f"{host} is at a {kind} address, which GrowthGuard never connects to."


def _sign_in(
    url: str,
    username: str,
    password: str,
    timeout: float,
    verify_tls: bool | str,
    reach: Reach,
    resolve: Resolver,
) -> Connected:
    credentials = CalDavCredentials(
        url=url, username=username, password=password, auth_type="basic", verify_tls=verify_tls
    )
    try:
        principal, home, addresses = _principal(credentials, timeout, reach, resolve)
    except ReauthRequired:
        # The server may want Digest: let the library answer its challenge instead.
        credentials = CalDavCredentials(
            url=url, username=username, password=password, auth_type=None, verify_tls=verify_tls
        )
        principal, home, addresses = _principal(credentials, timeout, reach, resolve)
    if "@" in username:
        addresses = (*addresses, username.lower())
    credentials = CalDavCredentials(
        url=principal,
        username=username,
        password=password,
        auth_type=credentials.auth_type,
        verify_tls=verify_tls,
    ).with_addresses(addresses)
    client = CalDavClient(credentials, timeout=timeout, reach=reach, resolve=resolve)
    try:
        with _explained(url):
            calendars = [c for c in client.calendars(home) if c.events]
    finally:
        client.close()
    if not calendars:
        raise ConnectRefused(
            "Signed in, but this account has no calendar for events (only task lists or "
            "address books). Create a calendar in your calendar app first.",
            field="server",
        )
    return Connected(credentials, calendars)


def _principal(
    credentials: CalDavCredentials, timeout: float, reach: Reach, resolve: Resolver
) -> tuple[str, str, tuple[str, ...]]:
    client = CalDavClient(credentials, timeout=timeout, reach=reach, resolve=resolve)
    try:
        with _explained(credentials.url):
            return client.principal()
    finally:
        client.close()


@contextlib.contextmanager
def _explained(url: str) -> Iterator[None]:
    """Turn transport and protocol failures into messages a person can act on."""
    try:
        yield
    except ConnectRefused:
        raise
    except (ConnectorError, ssl.SSLError, niquests.exceptions.SSLError) as failure:
        raise _message(failure, _host_of(url)) from None


def _host_of(url: str) -> str:
    """host[:port] of a URL, never its user information."""
    return urlsplit(url).netloc.rpartition("@")[2] or url


def _message(value: BaseException, host: str) -> ConnectRefused:
    if isinstance(value, AddressRefused):
        # The server named another host (an href, a redirect) at an address not reached here.
        return ConnectRefused(
            f"{host} pointed GrowthGuard to an address it does not connect to ({value}).",
            field="server",
        )
    if isinstance(value, ReauthRequired):
        return ConnectRefused(
            "The server refused this username or password. Use an app password if your "
            "provider has them (iCloud and Fastmail require one).",
            field="password",
        )
    if isinstance(value, PermissionDenied):
        return ConnectRefused(
            f"{host} refused this login access to that URL (HTTP 403): check that the URL "
            "points to your own calendars, and the username.",
            field="server",
        )
    if isinstance(value, NotFound):
        return ConnectRefused(
            f"There is no CalDAV service at that URL on {host}; check the path "
            "(see the examples below).",
            field="server",
        )
    if isinstance(value, TransientError):
        return ConnectRefused(_transport_problem(value, host), field="server")
    if isinstance(value, ssl.SSLError | niquests.exceptions.SSLError):
        return ConnectRefused(_tls_message(host), field="server")
    return ConnectRefused(
        f"{host} did not answer like a CalDAV server; check the URL.", field="server"
    )


def _tls_message(host: str) -> str:
    return (
        f"The secure connection to {host} failed: its certificate could not be verified "
        "(self-signed, expired or for another name). Fix the server's certificate, or check "
        "the URL."
    )


def _transport_problem(error: TransientError, host: str) -> str:
    cause = str(error)
    if "SSLError" in cause or "CERTIFICATE" in cause.upper():
        return _tls_message(host)
    if "in time" in cause or "Timeout" in cause:
        return f"{host} did not answer in time; check the URL, or try again later."
    if "ConnectionError" in cause:
        return f"Could not reach {host}: nothing answered there. Check the URL and port."
    return f"{host} failed to answer ({cause}); try again later."


def finish(
    context: Mapping[str, Any],
    fields: Mapping[str, str],
    *,
    timeout: float = 15.0,
    verify_tls: bool | str = True,
    allow_private: bool = False,
    resolve: Resolver = system_resolver,
) -> Grant:
    """The registry entry's `finish` for the credentials form (server, username, password)."""
    connected = connect(
        fields.get("server", ""),
        fields.get("username", ""),
        fields.get("password", ""),
        timeout=timeout,
        verify_tls=verify_tls,
        allow_private=allow_private,
        resolve=resolve,
    )
    person = str(context.get("email") or "").lower()
    credentials = connected.credentials.with_addresses((person,) if person else ())
    host = _host_of(credentials.url)
    email = next((a for a in credentials.addresses if "@" in a), "")
    return Grant(
        credentials=dump(credentials),
        email=email,
        email_verified=False,  # a CalDAV login proves nothing about an email address
        subject=credentials.url,
        account_key=credentials.url,
        display_name=f"{credentials.username} on {host}",
    )


def refresh(blob: bytes, *, timeout: float = 15.0, allow_private: bool = False) -> bytes:
    """App passwords do not expire by themselves: check they still work; the same blob."""
    credentials = load(blob)
    client = CalDavClient(credentials, timeout=timeout, reach=reach_of(allow_private))
    try:
        client.home_url()
    finally:
        client.close()
    return blob
