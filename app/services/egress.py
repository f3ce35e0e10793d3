"""Outgoing requests to addresses people typed in (webhook and Slack URLs): public hosts only.

A URL's host is resolved once; every address must be public (not private, loopback,
link-local, shared, reserved, multicast or unspecified, also when wrapped in IPv6 as
IPv4-mapped, 6to4, Teredo or NAT64). The request then goes to the address that was checked,
with the name kept for the Host header and TLS (SNI and certificate), so a second DNS answer
cannot redirect it (DNS rebinding). Redirects are never followed; timeouts are short.
Loopback is allowed only outside production (a receiver on this machine), by a setting.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

TIMEOUT = httpx.Timeout(connect=3.0, read=5.0, write=5.0, pool=3.0)
# Names that only ever mean something inside a network (cloud metadata, mDNS, intranets).
INTERNAL_SUFFIXES = (".internal", ".local", ".localhost", ".localdomain", ".home.arpa", ".lan")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class EgressRefusedError(ValueError):
    """The URL may not be requested; the message says why (safe to show)."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify(ip: IPAddress) -> str:
    """ "public", "loopback", or the kind of non-public address it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return classify(inner)
    for kind, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return kind
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    return "public" if ip.is_global else "reserved"  # e.g. 100.64.0.0/10 (shared, CGNAT)


def check_addresses(addresses: Sequence[str], *, allow_loopback: bool) -> list[IPAddress]:
    """The addresses, if every one may be reached; EgressRefusedError otherwise."""
    checked: list[IPAddress] = []
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        kind = classify(ip)
        if kind == "loopback" and allow_loopback:
            checked.append(ip)
            continue
        if kind != "public":
            raise EgressRefusedError(
                f"the host resolves to a {kind} address ({ip}); use a public one"
            )
        checked.append(ip)
    if not checked:
        raise EgressRefusedError("the host has no address")
    return checked


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
