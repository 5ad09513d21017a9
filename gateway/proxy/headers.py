"""Which headers cross the gateway, in each direction (DESIGN.md section 5)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

# RFC 9110 section 7.6.1, plus the de-facto Proxy-Connection; framing is redone by httpx.
HOP_BY_HOP = frozenset(
    {
        b"connection", b"proxy-connection", b"keep-alive", b"te", b"transfer-encoding",
        b"upgrade", b"trailer", b"proxy-authenticate", b"proxy-authorization",
    }
)
# Set by the gateway only; a client's copy is always dropped.
GATEWAY_SET = frozenset(
    {
        b"host", b"content-length", b"x-forwarded-for", b"x-forwarded-proto",
        b"x-forwarded-host", b"x-forwarded-port", b"forwarded", b"x-request-id",
        b"x-real-ip",
    }
)
IDENTITY_HEADERS = frozenset({b"x-consumer", b"x-user-id", b"x-scopes"})
HIDDEN_RESPONSE = frozenset({b"server", b"x-powered-by", b"content-length"}) | HOP_BY_HOP


def connection_listed(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Header names a ``Connection`` header declares hop-by-hop."""
    names: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            names.update(token.strip().lower() for token in value.split(b","))
    return frozenset(names)


def request_headers_for_upstream(
    raw: list[tuple[bytes, bytes]], dropped: frozenset[bytes]
) -> list[tuple[bytes, bytes]]:
    """The client's headers minus hop-by-hop, gateway-set and identity headers."""
    extra = connection_listed(raw) if any(n.lower() == b"connection" for n, _ in raw) else ()
    kept = []
    for name, value in raw:
        lower = name.lower()
        if lower in dropped or lower in extra:
            continue
        kept.append((name, value))
    return kept


def response_headers_for_client(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    extra = connection_listed(raw)
    return [
        (name, value)
        for name, value in raw
        if (lower := name.lower()) not in HIDDEN_RESPONSE and lower not in extra
    ]


def forwarded_element(client_ip: str, proto: str, host: str) -> str:
    """One RFC 7239 ``Forwarded`` element describing this hop."""
    node = client_ip
    try:
        if ipaddress.ip_address(client_ip).version == 6:
            node = f'"[{client_ip}]"'
    except ValueError:
        node = '"_unknown"' if not client_ip else f'"{client_ip}"'
    return f'for={node};proto={proto};host="{host}"'
