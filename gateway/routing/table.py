"""The route table, compiled once per config load.

Matching walks the request path's segment prefixes from the longest down to ``/`` with
one dict look-up each, so ``/api/orders`` matches ``/api/orders`` and ``/api/orders/7``
but never ``/api/ordersx``, and the longest prefix wins. Among routes with the same
prefix, host- and header-constrained ones are tried first, then config order. A path
that matches only routes for other methods is a 405 with ``Allow``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.errors import MethodNotAllowed, NotFound

if TYPE_CHECKING:
    from gateway.policies.base import Policy
    from gateway.proxy.upstreams import UpstreamPool


@dataclass(frozen=True, slots=True, eq=False)
class Route:
    name: str
    prefix: str
    upstream: UpstreamPool
    methods: frozenset[str] | None = None
    hosts: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    strip_prefix: str | None = None
    preserve_host: bool = False
    retry_non_idempotent: bool = False
    policies: tuple[Policy, ...] = field(default=())

    def matches_host_and_headers(self, host: str, headers: Mapping[str, str]) -> bool:
        if self.hosts and not any(_host_matches(pattern, host) for pattern in self.hosts):
            return False
        return not self.headers or all(headers.get(name) == value for name, value in self.headers)

    def upstream_path(self, path: str) -> str:
        """The path sent upstream: the normalised path minus ``strip_prefix``."""
        strip = self.strip_prefix
        if not strip or strip == "/":
            return path
        rest = path[len(strip):]
        return rest if rest.startswith("/") else "/" + rest


def _host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


class RouteTable:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = tuple(routes)
        by_prefix: dict[str, list[Route]] = {}
        for route in routes:
            by_prefix.setdefault(route.prefix, []).append(route)
        for candidates in by_prefix.values():
            candidates.sort(key=lambda r: not (r.hosts or r.headers))  # stable: config order
        self._by_prefix = {prefix: tuple(rs) for prefix, rs in by_prefix.items()}

    def match(self, path: str, method: str, host: str, headers: Mapping[str, str]) -> Route:
        allowed: set[str] = set()
        allowed_at: str | None = None  # the most specific prefix that matched but for method
        for prefix in _prefixes(path):
            for route in self._by_prefix.get(prefix, ()):
                if not route.matches_host_and_headers(host, headers):
                    continue
                if route.methods is None or method in route.methods:
                    return route
                if allowed_at in (None, prefix):
                    allowed_at = prefix
                    allowed |= route.methods
        if allowed_at is not None:
            raise MethodNotAllowed(headers=[("Allow", ", ".join(sorted(allowed)))])
        raise NotFound(reason="no_route")


def _prefixes(path: str):
    """``/a/b/c`` -> ``/a/b/c``, ``/a/b``, ``/a``, ``/`` (a trailing slash is ignored)."""
    end = len(path.rstrip("/"))
    while end > 0:
        yield path[:end]
        end = path.rfind("/", 0, end)
    yield "/"
