"""Outgoing requests to addresses people typed in (webhook and Slack URLs): public hosts only.

A URL's host is resolved once; every address must be public (not private, loopback,
link-local, shared, reserved, multicast or unspecified, also when wrapped in IPv6 as
IPv4-mapped, 6to4, Teredo or NAT64: the classifier in connectors/netpolicy.py, which CalDAV
servers are checked with too). The request then goes to the address that was checked,
with the name kept for the Host header and TLS (SNI and certificate), so a second DNS answer
cannot redirect it (DNS rebinding). Redirects are never followed; timeouts are short.
Loopback is allowed only outside production (a receiver on this machine), by a setting.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import httpx

from connectors.netpolicy import (
    IPAddress,
    Reach,
    Resolver,
    classify,
    parse_address,
    refused_kind,
    system_resolver,
)

__all__ = [
    "EgressRefusedError",
    "Resolver",
    "check_addresses",
    "check_url",
    "classify",
    "post",
    "system_resolver",
]

TIMEOUT = httpx.Timeout(connect=3.0, read=5.0, write=5.0, pool=3.0)
# Names that only ever mean something inside a network (cloud metadata, mDNS, intranets).
INTERNAL_SUFFIXES = (".internal", ".local", ".localhost", ".localdomain", ".home.arpa", ".lan")


class EgressRefusedError(ValueError):
    """The URL may not be requested; the message says why (safe to show)."""


def check_addresses(addresses: Sequence[str], *, allow_loopback: bool) -> list[IPAddress]:
    """The addresses, if every one may be reached; EgressRefusedError otherwise."""
    refused = refused_kind(addresses, Reach(loopback=allow_loopback))
    if refused is not None:
        kind, address = refused
        raise EgressRefusedError(
            f"the host resolves to a {kind} address ({parse_address(address)}); use a public one"
        )
    if not addresses:
        raise EgressRefusedError("the host has no address")
    return [parse_address(text) for text in addresses]


def check_url(
    url: str,
    *,
    allow_loopback: bool,
    resolve: Resolver = system_resolver,
    must_resolve: bool = True,
) -> list[IPAddress]:
    """Check a URL's host; the addresses to use (empty when it did not resolve and need not)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise EgressRefusedError("the URL has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        return check_addresses([str(literal)], allow_loopback=allow_loopback)
    if host == "localhost" or host.endswith(INTERNAL_SUFFIXES) or "." not in host:
        if host == "localhost" and allow_loopback:
            return check_addresses(["127.0.0.1"], allow_loopback=True)
        raise EgressRefusedError(f"{host} is an internal name; use a public host")
    try:
        addresses = resolve(host, port)
    except OSError:
        if must_resolve:
            raise EgressRefusedError(f"{host} does not resolve") from None
        return []
    return check_addresses(addresses, allow_loopback=allow_loopback)


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow_loopback: bool,
    resolve: Resolver = system_resolver,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Response:
    """POST to the checked, pinned address of `url`'s host; no redirects, short timeouts."""
    address = check_url(url, allow_loopback=allow_loopback, resolve=resolve)[0]
    parts = urlsplit(url)
    host = parts.hostname or ""
    pinned = httpx.URL(url).copy_with(host=str(address))
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    with httpx.Client(
        timeout=TIMEOUT, follow_redirects=False, trust_env=False, transport=transport
    ) as client:
        request = client.build_request(
            "POST",
            pinned,
            content=body,
            headers={**headers, "Host": parts.netloc.rpartition("@")[2]},
            extensions=extensions,
        )
        return client.send(request)
