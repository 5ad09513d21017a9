"""The ``api_key`` policy: accept a request whose API key belongs to a declared consumer.

Consumers store only ``sha256:<hex>`` digests of their keys. The lookup table is built
once, from digest to consumer; a request's key is hashed and looked up. Indexing by the
sha256 of the secret leaks nothing useful through timing (an attacker cannot steer the
digest's bytes), and the final check is ``hmac.compare_digest``. The key itself is
never logged nor forwarded as an identity: upstream gets ``X-Consumer``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from gateway.auth import challenge
from gateway.auth.base import AuthPolicy, add_upstream_headers
from gateway.auth.claims import check_header_name
from gateway.context import Identity
from gateway.policies.base import PolicyConfig, Services, register

if TYPE_CHECKING:
    from gateway.context import RequestContext

PREFIX = "sha256:"


class ApiKeyConfig(PolicyConfig):
    header: str | list[str] = Field(
        "X-API-Key",
        description="Header carrying the key; a list accepts several names (e.g. apikey).",
    )
    consumers: list[str] | None = Field(
        None,
        description="Only these consumers may use the route (others: 403). Unset: any consumer.",
    )
    consumer_header: str = Field(
        "X-Consumer", description="Upstream header carrying the consumer name."
    )
    max_key_bytes: int = Field(
        1024, ge=16, le=8192, description="Longer keys are refused without hashing."
    )

    @field_validator("header")
    @classmethod
    def _headers(cls, header: str | list[str]) -> str | list[str]:
        names = [header] if isinstance(header, str) else header
        if not names:
            raise ValueError("name at least one header")
        for name in names:
            check_header_name(name)
        return header

    @field_validator("consumer_header")
    @classmethod
    def _consumer_header(cls, name: str) -> str:
        return check_header_name(name)


@register
class ApiKeyPolicy(AuthPolicy):
    name = "api_key"
    Config = ApiKeyConfig
    config: ApiKeyConfig

    def __init__(self, config: ApiKeyConfig, *, route_name: str, services: Services) -> None:
        super().__init__(config, route_name=route_name, services=services)
        self.headers = (config.header,) if isinstance(config.header, str) else tuple(config.header)
        self.by_digest = digest_table(services.consumers)
        self.allowed = frozenset(config.consumers) if config.consumers is not None else None
        self.upstream_header_names = (config.consumer_header,)

    async def authenticate(self, ctx: RequestContext) -> None:
        key = self._key(ctx)
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
        found = self.by_digest.get(digest)
        if found is None or not hmac.compare_digest(found[0], digest):
            raise challenge.invalid_api_key()
        consumer = found[1]
        if self.allowed is not None and consumer not in self.allowed:
            raise challenge.consumer_not_allowed()
        ctx.identity = Identity(consumer=consumer, policy=self.name)
        add_upstream_headers(ctx, [(self.config.consumer_header, consumer)])

    def _key(self, ctx: RequestContext) -> str:
        key = next((v for v in map(ctx.header, self.headers) if v and v.strip()), None)
        if key is None:
            raise challenge.missing_api_key(self.headers[0])
        if len(key) > self.config.max_key_bytes:
            raise challenge.invalid_api_key(reason="api_key_too_large")
        return key.strip()


def digest_table(consumers: Iterable[Any]) -> dict[bytes, tuple[bytes, str]]:
    """``digest -> (digest, consumer name)``; a digest shared by two consumers is an error."""
    table: dict[bytes, tuple[bytes, str]] = {}
    for consumer in consumers:
        for stored in consumer.api_keys:
            digest = parse_digest(stored)
            if digest in table and table[digest][1] != consumer.name:
                raise ValueError(
                    f"consumers {table[digest][1]!r} and {consumer.name!r} share an API key"
                )
            table[digest] = (digest, consumer.name)
    return table


def parse_digest(stored: str) -> bytes:
    if not stored.startswith(PREFIX):
        raise ValueError("API keys are stored as 'sha256:<hex>'")
    digest = bytes.fromhex(stored[len(PREFIX) :])
    if len(digest) != 32:
        raise ValueError("an sha256 digest has 64 hex digits")
    return digest


def hash_key(key: str) -> str:
    """The stored form of a new key: what goes into ``consumers[].api_keys``."""
    return PREFIX + hashlib.sha256(key.encode()).hexdigest()
