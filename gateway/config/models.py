"""The schema of ``gateway.yaml``. Strict: an unknown key is an error, never ignored.

Policy options are validated separately by each policy's own ``Config`` model (see
``gateway.config.loader``), so a policy's schema lives beside its code.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
_TARGET = re.compile(r"^https?://[A-Za-z0-9.\-_\[\]:]+(:\d{1,5})?(/[^?#]*)?$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(Strict):
    connect: float = Field(1.0, gt=0, description="Seconds to establish a connection.")
    read: float = Field(10.0, gt=0, description="Seconds to wait for each read.")
    write: float = Field(10.0, gt=0, description="Seconds to wait for each write.")
    pool: float = Field(1.0, gt=0, description="Seconds to wait for a free connection.")


class Retries(Strict):
    attempts: int = Field(0, ge=0, le=5, description="Extra attempts after the first.")
    methods: list[Method] = Field(
        default=["GET", "HEAD", "OPTIONS", "PUT", "DELETE"],
        description="Methods that may be retried (idempotent ones by default).",
    )
    on_statuses: list[int] = Field(
        default=[502, 503, 504], description="Upstream statuses that are retried."
    )
    budget_percent: float = Field(
        20.0, ge=0, le=100, description="Retries may add at most this share of requests."
    )
    min_retries_per_second: float = Field(
        3.0, ge=0, description="Retries always allowed per second, whatever the budget."
    )


class CircuitBreaker(Strict):
    failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open it.")
    failure_rate: float | None = Field(
        None, gt=0, le=1, description="Or: failure share in the window that opens it."
    )
    window_seconds: float = Field(10.0, gt=0, description="Window for failure_rate.")
    minimum_requests: int = Field(20, ge=1, description="Requests in window before the rate counts.")
    open_seconds: float = Field(15.0, gt=0, description="Seconds it stays open.")
    half_open_probes: int = Field(1, ge=1, description="Requests let through to test recovery.")


class PassiveHealth(Strict):
    consecutive_failures: int = Field(5, ge=1, description="Failures in a row that eject a target.")
    base_ejection_seconds: float = Field(10.0, gt=0, description="First ejection; doubles each time.")
    max_ejection_seconds: float = Field(300.0, gt=0, description="Longest ejection.")
    max_ejection_percent: int = Field(50, ge=0, le=100, description="Never eject more targets than this.")


class ActiveHealth(Strict):
    path: str = Field("/healthz", description="Probed with GET; 2xx/3xx is healthy.")
    interval: float = Field(5.0, gt=0, description="Seconds between probes.")
    timeout: float = Field(1.0, gt=0, description="Seconds a probe may take.")
    healthy_threshold: int = Field(2, ge=1, description="Passes in a row to become healthy.")
    unhealthy_threshold: int = Field(3, ge=1, description="Failures in a row to become unhealthy.")


class Health(Strict):
    passive: PassiveHealth | None = PassiveHealth()
    active: ActiveHealth | None = None


class Upstream(Strict):
    targets: list[str] = Field(min_length=1, description="Base URLs, load balanced.")
    load_balancing: Literal["round_robin", "least_requests"] = "round_robin"
    timeouts: Timeouts = Timeouts()
    retries: Retries = Retries()
    circuit_breaker: CircuitBreaker | None = None
    health: Health = Health()
    max_connections: int = Field(100, ge=1, description="Pooled connections per worker.")
    max_in_flight: int | None = Field(
        None, ge=1, description="Requests in flight per worker; excess gets 503 at once."
    )

    @field_validator("targets")
    @classmethod
    def _targets_are_base_urls(cls, targets: list[str]) -> list[str]:
        for target in targets:
            if not _TARGET.match(target):
                raise ValueError(
                    f"{target!r} is not a base URL like http://host:port[/base-path] "
                    "(no query or fragment)"
                )
        return [t.rstrip("/") for t in targets]


class Match(Strict):
    path_prefix: str = Field(description="Matches this path and everything below it.")
    methods: list[Method] | None = Field(None, description="Allowed methods; all if unset.")
    hosts: list[str] | None = Field(None, description="Host names (or *.domain) to match.")
    headers: dict[str, str] | None = Field(None, description="Exact header values to match.")

    @field_validator("path_prefix")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or "?" in value or "#" in value or "//" in value:
            raise ValueError("must be an absolute path like /api/orders (no query, no //)")
        if "/-/" in value + "/" and value.startswith("/-"):
            raise ValueError("/-/ is reserved for the gateway's own endpoints")
        return value.rstrip("/") or "/"


def _one_policy(entry: dict[str, Any]) -> dict[str, Any]:
    if len(entry) != 1:
        raise ValueError("a policy entry names exactly one policy, like `- jwt: {...}`")
    return entry


PolicyEntry = Annotated[dict[str, Any], AfterValidator(_one_policy)]


class Route(Strict):
    name: str = Field(pattern=_NAME, description="The `route` label in metrics and logs.")
    match: Match
    upstream: str
    strip_prefix: str | None = Field(None, description="Removed from the upstream path.")
    preserve_host: bool = Field(False, description="Send the client's Host upstream.")
    retry_non_idempotent: bool = Field(
        False, description="Allow retries of any method on this route (bodies are buffered)."
    )
    policies: list[PolicyEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _strip_prefix_is_a_prefix(self) -> Route:
        strip = self.strip_prefix
        if strip is None:
            return self
        strip = strip.rstrip("/") or "/"
        prefix = self.match.path_prefix
        if not (prefix == strip or prefix.startswith(strip + "/") or strip == "/"):
            raise ValueError(
                f"strip_prefix {self.strip_prefix!r} must be a leading part of "
                f"match.path_prefix {prefix!r}"
            )
        return self


class Consumer(Strict):
    name: str = Field(pattern=_NAME)
    api_keys: list[str] = Field(default_factory=list, description="sha256:<hex> digests.")

    @field_validator("api_keys")
    @classmethod
    def _hashed(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", key):
                raise ValueError("API keys are stored hashed: 'sha256:' + 64 lowercase hex")
        return keys


class Admin(Strict):
    allow_networks: Networks = Field(
        default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
        description="Networks allowed to read /-/metrics and /-/routes.",
    )
    token: str | None = Field(None, description="Bearer token that also grants access.")


def _check_networks(networks: list[str]) -> list[str]:
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(f"{network!r} is not an IP network (CIDR)") from None
    return networks


Networks = Annotated[list[str], AfterValidator(_check_networks)]


class Limits(Strict):
    max_url_bytes: int = Field(8192, ge=256, description="Longest request target (path+query): 414.")
    max_header_bytes: int = Field(16384, ge=1024, description="All request headers together: 431.")
    max_headers: int = Field(100, ge=10, description="Most request header fields: 431.")
    max_body_bytes: int = Field(
        64 * 1024 * 1024, ge=0, description="Largest request body on any route: 413."
    )


class Settings(Strict):
    trusted_proxies: Networks = Field(
        default_factory=list, description="CIDRs whose X-Forwarded-For is believed."
    )
    merge_slashes: bool = Field(True, description="Treat // in a path as /.")
    allowed_hosts: list[str] = Field(
        default=["*"], description="Host names the gateway answers for (or *.domain); 400 otherwise."
    )
    limits: Limits = Limits()
    admin: Admin = Admin()


class GatewayConfig(Strict):
    gateway: Settings = Settings()
    upstreams: dict[str, Upstream] = Field(min_length=1)
    routes: list[Route] = Field(min_length=1)
    consumers: list[Consumer] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> GatewayConfig:
        names: set[str] = set()
        for route in self.routes:
            if route.name in names:
                raise ValueError(f"route name {route.name!r} is used twice")
            names.add(route.name)
        return self
