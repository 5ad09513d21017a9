"""Upstream pools: targets parsed once per config load, picked round robin."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from gateway.config.models import Upstream


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    base_path: str  # "" or "/base" without trailing slash
    host_header: str  # what Host says when the client's Host is not preserved

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        default = (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)
        host = parts.hostname or ""
        shown = f"[{host}]" if ":" in host else host
        return cls(
            scheme=parts.scheme,
            host=host,
            port=port,
            base_path=parts.path.rstrip("/"),
            host_header=shown if default else f"{shown}:{port}",
        )

    def url(self, path: str, query: bytes) -> httpx.URL:
        raw = (self.base_path + path).encode("ascii")
        if query:
            raw += b"?" + query
        return httpx.URL(scheme=self.scheme, host=self.host, port=self.port, raw_path=raw)


class UpstreamPool:
    def __init__(self, name: str, config: Upstream) -> None:
        self.name = name
        self.config = config
        self.targets = tuple(Target.parse(t) for t in config.targets)
        self._cycle = itertools.cycle(self.targets)
        t = config.timeouts
        self.timeout_dict = {"connect": t.connect, "read": t.read, "write": t.write, "pool": t.pool}

    def next_target(self) -> Target:
        return next(self._cycle)
