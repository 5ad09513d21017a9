"""From verified claims to what the gateway tells the upstream: identity and headers."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

#: RFC 9110 field-name token
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
#: headers the gateway or the HTTP layer owns: a policy never sets them upstream
RESERVED = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
        "proxy-connection",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-request-id",
        "traceparent",
        "tracestate",
        "authorization",
        "cookie",
        "content-type",
        "content-encoding",
    }
)
#: visible ASCII and space stay as they are; anything else (CR, LF, non-ASCII, %) is encoded
_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def scopes(claims: dict[str, Any]) -> frozenset[str]:
    """``scope`` (space-separated, RFC 8693) and ``scp`` (a list, or a string) together."""
    found: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(item for item in value if isinstance(item, str) and item)
    return frozenset(found)


def header_value(value: Any) -> str:
    """A claim as a header value that cannot split or smuggle headers."""
    if isinstance(value, list) and all(isinstance(v, str | int | float | bool) for v in value):
        text = ",".join(_scalar(v) for v in value)
    elif isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    else:
        text = _scalar(value)
    return quote(text, safe=_SAFE)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def claim_headers(claims: dict[str, Any], mapping: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (header, header_value(claims[claim]))
        for claim, header in mapping.items()
        if claim in claims
    ]


def check_header_name(name: str) -> str:
    """For config validators: a field-name token the gateway does not own."""
    if not _TOKEN.match(name):
        raise ValueError(f"{name!r} is not a valid header name")
    if name.lower() in RESERVED:
        raise ValueError(f"{name!r} is set by the gateway itself; pick another header name")
    return name
