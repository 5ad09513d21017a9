"""Who shares a quota: the key a request is counted under.

Kinds: ``consumer`` (the authenticated consumer, else the client IP), ``ip`` (IPv6
grouped by /64, since one host usually holds a whole /64), ``route`` (everyone on the
route together) and ``header:<name>``. A list combines kinds. The route name is always
part of the key. Header values are hashed (they may be secrets, e.g. an API key, and
their length is the client's choice); other parts are hashed when long or unusual.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.context import RequestContext

KINDS = ("consumer", "ip", "route")
_HEADER = re.compile(r"^header:([!#$%&'*+\-.^_`|~0-9A-Za-z]+)$")
_PLAIN = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


def check_kind(kind: str) -> str:
    if kind in KINDS or _HEADER.match(kind):
        return kind
    raise ValueError(
        f"{kind!r} is not a rate-limit key: use consumer, ip, route or header:<Header-Name>"
    )


def request_key(route: str, kinds: tuple[str, ...], ctx: RequestContext) -> str:
    return "|".join([_safe(route), *(_part(kind, ctx) for kind in kinds)])


def _part(kind: str, ctx: RequestContext) -> str:
    if kind == "route":
        return "*"
    if kind == "consumer" and ctx.identity is not None and ctx.identity.consumer:
        return "c=" + _safe(ctx.identity.consumer)
    if kind in ("consumer", "ip"):
        return "ip=" + client_network(ctx.client_ip)
    value = ctx.header(kind.removeprefix("header:"))
    return "h=" + (_digest(value) if value is not None else "-")


def client_network(client_ip: str) -> str:
    """The address, or its /64 network for IPv6 (IPv4-mapped addresses count as IPv4)."""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return _safe(client_ip or "unknown")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((address, 64), strict=False).network_address) + "/64"
    return str(address.ipv4_mapped or address) if address.version == 6 else str(address)


def _safe(value: str) -> str:
    return value if _PLAIN.match(value) else "#" + _digest(value)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
