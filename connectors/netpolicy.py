"""Which network addresses GrowthGuard may reach: one classifier for every outgoing request.

Notification URLs (app/services/notifications/egress.py) and CalDAV servers
(connectors/caldav) both ask here. An address is "public" or one of the non-public kinds;
IPv4 wrapped in IPv6 (IPv4-mapped, 6to4, Teredo, NAT64) is judged by the IPv4 inside. A `Reach`
says which non-public kinds a caller accepts: loopback (a receiver or a demo calendar here)
and private networks (a self-hosted calendar server on the LAN). Link-local (cloud metadata at
169.254.169.254), unspecified, multicast, reserved and shared addresses are never reachable.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connectors.errors import ConnectorError

__all__ = [
    "PUBLIC_ONLY",
    "AddressRefused",
    "IPAddress",
    "Reach",
    "Resolver",
    "classify",
    "parse_address",
    "refused_kind",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]  # (host, port) -> addresses
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class AddressRefused(ConnectorError):
    """A request would go to an address this deployment does not reach (SSRF guard)."""


@dataclass(frozen=True)
class Reach:
    """The non-public address kinds a caller may reach, besides public ones."""

    loopback: bool = False
    private: bool = False

    def allows(self, kind: str) -> bool:
        return (
            kind == "public"
            or (kind == "loopback" and self.loopback)
            or (kind == "private" and self.private)
        )


PUBLIC_ONLY = Reach()


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (OSError when it gives none)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_address(text: str) -> IPAddress:
    """An address from text, without an IPv6 zone id (ValueError when it is none)."""
    return ipaddress.ip_address(text.split("%", 1)[0])


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


def refused_kind(addresses: Sequence[str], reach: Reach) -> tuple[str, str] | None:
    """(kind, address) of the first address `reach` does not allow; None when all are fine."""
    for text in addresses:
        kind = classify(parse_address(text))
        if not reach.allows(kind):
            return kind, text
    return None
