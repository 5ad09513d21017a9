"""Everything built from one config load, per worker: routes, policies, upstreams, client.

Built once (never per request) and swapped as a whole, so a request runs start to end
on the config it started with.
"""

from __future__ import annotations

import logging
import os

import httpx

from gateway.config import load_config
from gateway.config.models import GatewayConfig
from gateway.context import ScopeHeaders
from gateway.errors import GatewayError
from gateway.net import host_without_port, parse_networks
from gateway.policies import REGISTRY
from gateway.policies.base import Policy, Services
from gateway.policies.pipeline import compile_steps
from gateway.proxy.client import create_client
from gateway.proxy.health import ActiveHealthChecker
from gateway.proxy.headers import GATEWAY_SET, HOP_BY_HOP, IDENTITY_HEADERS, request_headers_for_upstream
from gateway.proxy.upstreams import UpstreamPool
from gateway.routing.normalize import normalize_path
from gateway.routing.table import Route, RouteTable

logger = logging.getLogger("gateway")

DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "demo", "gateway.yaml")


class Runtime:
    def __init__(self, config: GatewayConfig, policy_options, source: str = "") -> None:
        self.config = config
        self.source = source
        self.services = Services(settings=config.gateway, consumers=config.consumers)
        self.pools = {name: UpstreamPool(name, up) for name, up in config.upstreams.items()}
        self.routes = [self._route(i, r, policy_options[i]) for i, r in enumerate(config.routes)]
        self.table = RouteTable(self.routes)
        self.trusted_proxies = parse_networks(
            [*config.gateway.trusted_proxies, *_env_list("GATEWAY_TRUSTED_PROXIES")]
        )
        self.admin_networks = parse_networks(config.gateway.admin.allow_networks)
        self.dropped_request_headers = (HOP_BY_HOP | GATEWAY_SET | IDENTITY_HEADERS | self._identity_names()
                                        | _replaced_trace_context())
        hosts = [h.lower() for h in config.gateway.allowed_hosts]
        self._allowed_hosts = None if "*" in hosts else frozenset(h for h in hosts if not h.startswith("*."))
        self._host_suffixes = tuple(h[1:] for h in hosts if h.startswith("*."))
        self.route_body_limits = {
            route.name: policy
            for route in self.routes for policy in _flatten(route.policies) if policy.name == "request_size_limit"
        }
        self.client: httpx.AsyncClient | None = None
        self.transport: httpx.AsyncBaseTransport | None = None
        self.ready = False
        self.draining = False

    def _route(self, index: int, route, options) -> Route:
        policies: list[Policy] = [
            REGISTRY[name](opts, route_name=route.name, services=self.services) for name, opts in options
        ]
        match = route.match
        return Route(
            name=route.name,
            prefix=match.path_prefix,
            upstream=self.pools[route.upstream],
            methods=frozenset(match.methods) if match.methods else None,
            hosts=tuple(h.lower() for h in match.hosts or ()),
            headers=tuple((k.lower(), v) for k, v in (match.headers or {}).items()),
            strip_prefix=route.strip_prefix,
            preserve_host=route.preserve_host,
            retry_non_idempotent=route.retry_non_idempotent,
            policies=compile_steps(policies),
        )

    def _identity_names(self) -> frozenset[bytes]:
        """Header names any policy may set upstream: a client's copy is never forwarded."""
        names = set()
        for route in self.routes:
            for policy in _flatten(route.policies):
                names.update(n.lower().encode() for n in getattr(policy, "upstream_header_names", ()))
        return frozenset(names)

    def host_allowed(self, host: str) -> bool:
        allowed = self._allowed_hosts
        if allowed is None:
            return True
        return host in allowed or any(host.endswith(s) and host != s[1:] for s in self._host_suffixes)

    def body_limit(self, scope: dict) -> tuple[int, str | None, Route | None]:
        """The most body bytes to read, and the refusal's detail and route when the limit is
        a route's:
        the gateway's limit, or the lower ``request_size_limit`` of the route that will serve
        this request, so an oversized streamed body is cut off as it arrives. Only configs
        with such a policy pay for this early match."""
        limit = self.config.gateway.limits.max_body_bytes
        if not self.route_body_limits:
            return limit, None, None
        try:
            raw_path = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0]
            path = normalize_path(raw_path, self.config.gateway.merge_slashes)
            headers = ScopeHeaders(scope["headers"])
            host = host_without_port(headers.get("host") or "").lower()
            route = self.table.match(path, scope["method"], host, headers)
        except GatewayError:
            return limit, None, None  # the view answers for the path, host or method
        policy = self.route_body_limits.get(route.name)
        if policy is None or policy.max_bytes >= limit:
            return limit, None, None
        return policy.max_bytes, policy.error_detail, route

    def request_headers(self, raw):
        return request_headers_for_upstream(raw, self.dropped_request_headers)

    async def start(self, client: httpx.AsyncClient | None = None) -> None:
        """Open (or, on reload, share) the worker's client and start background work."""
        if client is None:
            max_connections = max(p.config.max_connections for p in self.pools.values())
            client = create_client(max_connections)
        self.client = client
        # The proxy calls the transport directly: see gateway.proxy.client.
        self.transport = self.client._transport
        self.services.http = self.client
        self.health_checkers = [
            ActiveHealthChecker(pool, self.client)
            for pool in self.pools.values() if pool.config.health.active is not None
        ]
        for checker in self.health_checkers:
            checker.start()
        for route in self.routes:
            for policy in _flatten(route.policies):
                await policy.startup()
        self.ready = True

    async def retire(self) -> None:
        """Replaced by a reload: stop background work, keep the shared client open."""
        self.ready = False
        for checker in getattr(self, "health_checkers", ()):
            await checker.stop()

    async def stop(self) -> None:
        await self.retire()
        for route in self.routes:
            for policy in _flatten(route.policies):
                await policy.shutdown()
        if self.client is not None:
            await self.client.aclose()


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _replaced_trace_context() -> frozenset[bytes]:
    """With tracing on, the upstream gets the gateway's own ``traceparent``/``tracestate``
    (``gateway.observe.upstream_call``), never the client's copy; off, the client's pass."""
    from gateway import observe

    return observe.TRACE_CONTEXT_HEADERS if observe.TRACING else frozenset()


def _flatten(steps):
    for step in steps:
        yield from getattr(step, "members", (step,))


def load_runtime(path: str | None = None) -> Runtime:
    source = path or os.environ.get("GATEWAY_CONFIG") or DEFAULT_CONFIG
    config, policy_options = load_config(source)
    return Runtime(config, policy_options, source)


_current: Runtime | None = None


def current() -> Runtime | None:
    return _current


def install(runtime: Runtime | None) -> None:
    global _current
    _current = runtime
