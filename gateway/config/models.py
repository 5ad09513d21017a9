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


class CircuitBreaker(Strict):
    failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open it.")
    open_seconds: float = Field(15.0, gt=0, description="Seconds it stays open.")


class Upstream(Strict):
    targets: list[str] = Field(min_length=1, description="Base URLs, load balanced.")
    load_balancing: Literal["round_robin"] = "round_robin"
    timeouts: Timeouts = Timeouts()
    retries: Retries = Retries()
    circuit_breaker: CircuitBreaker | None = None
    max_connections: int = Field(100, ge=1, description="Pooled connections per worker.")

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


class Settings(Strict):
    trusted_proxies: Networks = Field(
        default_factory=list, description="CIDRs whose X-Forwarded-For is believed."
    )
    merge_slashes: bool = Field(True, description="Treat // in a path as /.")
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
