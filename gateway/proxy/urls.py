"""Upstream URLs as ``httpx.URL`` without re-validating what the gateway made canonical.

``httpx.URL(...)`` checks and re-quotes each component character by character in Python:
~16 us a URL, the largest single cost of building the upstream request (profiled). The
gateway's upstream path is already normalised and its query already percent-encoded.
When both are exactly what httpx would produce (no character httpx quotes, no dot
segment), the URL is the target's pre-parsed origin with that path and query;
anything else goes through ``httpx.URL``. ``tests/proxy/test_urls.py`` holds the two
to the same result.
"""

from __future__ import annotations

import re

import httpx


def _allowed(excluded: str) -> re.Pattern[str]:
    characters = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in excluded)
    return re.compile(f"[{re.escape(characters)}]*")


# httpx's path and query percent-encode sets (WHATWG), with space and controls.
_CANONICAL_PATH = _allowed('"#<>?`{}')
_CANONICAL_QUERY = _allowed('"#<>')


class UpstreamUrls:
    """``httpx.URL`` for one target's scheme, host and port, any path and query."""

    def __init__(self, scheme: str, host: str, port: int) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self._origin = httpx.URL(scheme=scheme, host=host, port=port)._uri_reference

    def url(self, path: str, query: str | None) -> httpx.URL:
        """``path`` starts with ``/``; ``query`` is ASCII, None when there is none."""
        if _is_canonical(path, query):
            url = httpx.URL.__new__(httpx.URL)
            url._uri_reference = self._origin._replace(path=path, query=query)
            return url
        raw = path if query is None else f"{path}?{query}"
        return httpx.URL(scheme=self.scheme, host=self.host, port=self.port, raw_path=raw.encode("ascii"))


def _is_canonical(path: str, query: str | None) -> bool:
    return (
        path.startswith("/")
        and _CANONICAL_PATH.fullmatch(path) is not None
        and "/./" not in path and "/../" not in path and not path.endswith(("/.", "/.."))
        and (query is None or _CANONICAL_QUERY.fullmatch(query) is not None)
    )
