"""Header edits that work on every response the gateway returns.

Proxied responses keep the upstream's raw header list (``raw_headers``: repeated names
such as ``Set-Cookie`` preserved); responses the gateway writes itself are ordinary
Django responses. Policies edit either through these two functions.
"""

from __future__ import annotations


def set_header(response, name: str, value: str) -> None:
    """Replace every ``name`` header with one ``name: value``."""
    raw = getattr(response, "raw_headers", None)
    if raw is None:
        response[name] = value
        return
    remove_header(response, name)
    raw.append((name.encode("latin-1"), value.encode("latin-1")))


def remove_header(response, name: str) -> None:
    raw = getattr(response, "raw_headers", None)
    if raw is None:
        if name in response:
            del response[name]
        return
    lower = name.lower().encode("latin-1")
    raw[:] = [(n, v) for n, v in raw if n.lower() != lower]


def get_header(response, name: str) -> str | None:
    raw = getattr(response, "raw_headers", None)
    if raw is None:
        return response.get(name)
    lower = name.lower().encode("latin-1")
    for n, v in raw:
        if n.lower() == lower:
            return v.decode("latin-1")
    return None
