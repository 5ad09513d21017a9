"""Who is the client: the peer address, or what trusted proxies say it is."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def is_trusted(address: str, networks: Sequence[Network]) -> bool:
    if not networks or not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def resolve_client_ip(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The first address, from the right, that is not one of our trusted proxies.

    ``X-Forwarded-For`` is only believed when the peer itself is trusted, so a client
    cannot choose its own address (and with it, its rate-limit bucket).
    """
    if not forwarded_for or not is_trusted(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        if not _valid_ip(hop):
            return peer
        if not is_trusted(hop, trusted):
            return hop
    return peer


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def host_without_port(host: str) -> str:
    if host.endswith("]") or ":" not in host:
        return host
    return host.rsplit(":", 1)[0]
