"""The ``jwt`` policy: accept a request that carries a valid bearer JWT.

Order of checks, cheapest and safest first: a token is present (header, else the
configured cookie or query parameter); it is not larger than ``max_token_bytes`` (no
parsing of a 100 KB blob); a cached verification answers at once; its header's ``alg``
is in the route's allowlist (never taken from the token); the key comes from the
configured source only (``jku``, ``x5u``, ``jwk`` headers are ignored); pyjwt verifies
the signature and ``exp``/``nbf``/``iat``/``iss``/``aud`` plus the required claims; the
route's scopes must all be granted (else 403 ``insufficient_scope``).

On success ``ctx.identity`` is set and the identity headers (``X-Consumer``,
``X-User-Id``, ``X-Scopes`` and ``claims_to_headers``) go to
``ctx.extra["upstream_headers"]``. Without a key to verify with, the answer is 503:
auth never fails open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import jwt
from pydantic import Field, SecretStr, field_validator, model_validator

from gateway.auth import challenge
from gateway.auth.base import AuthPolicy, add_upstream_headers
from gateway.auth.claims import check_header_name, claim_headers, header_value, scopes
from gateway.auth.jwks import shared_cache
from gateway.auth.keys import (
    KeyLookupError,
    KeySource,
    KeysUnavailable,
    StaticKeys,
    prepare,
    read_public_key,
)
from gateway.auth.sources import bearer_token
from gateway.auth.token_cache import TokenCache
from gateway.context import Identity
from gateway.policies.base import PolicyConfig, Services, register

if TYPE_CHECKING:
    from gateway.context import RequestContext

Algorithm = Literal[
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "HS256",
    "HS384",
    "HS512",
]
#: RFC 7518 3.2: an HMAC key at least as long as the hash output
HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
ALWAYS_REQUIRED = ("exp", "iat", "sub")


class IdentityHeaders(PolicyConfig):
    consumer: str = Field("X-Consumer", description="Upstream header with the consumer name.")
    subject: str = Field("X-User-Id", description="Upstream header with the token's `sub`.")
    scopes: str = Field(
        "X-Scopes", description="Upstream header with the granted scopes, space-separated."
    )

    @field_validator("consumer", "subject", "scopes")
    @classmethod
    def _name(cls, name: str) -> str:
        return check_header_name(name)


class JwtConfig(PolicyConfig):
    jwks_url: str | None = Field(
        None, description="JWKS endpoint of the identity service (http/https)."
    )
    public_key_file: str | None = Field(
        None, description="PEM file with the public key (instead of a JWKS)."
    )
    secret: SecretStr | None = Field(
        None, description="Shared HMAC secret; only with HS* algorithms."
    )
    algorithms: list[Algorithm] = Field(
        min_length=1, description="Accepted `alg` values; HMAC and asymmetric never mix."
    )
    issuer: str | list[str] | None = Field(
        None, description="Accepted `iss` (exact match); required in tokens when set."
    )
    audience: str | list[str] | None = Field(
        None,
        description="Accepted `aud`; required in tokens when set. Unset: tokens with `aud` are refused.",
    )
    leeway: float = Field(
        10.0, ge=0, le=300, description="Clock skew tolerated on exp/nbf/iat, seconds."
    )
    scopes: list[str] = Field(
        default_factory=list, description="Scopes the token must all grant (`scope` or `scp`)."
    )
    required_claims: list[str] = Field(
        default_factory=list, description="Claims that must be present (exp, iat, sub always are)."
    )
    claims_to_headers: dict[str, str] = Field(
        default_factory=dict, description="Claim -> upstream header name."
    )
    consumer_claim: str = Field(
        "sub", description="Claim naming the consumer (falls back to `client_id`, then `sub`)."
    )
    identity_headers: IdentityHeaders = Field(
        default_factory=IdentityHeaders, description="Names of the identity headers."
    )
    cookie: str | None = Field(None, description="Also read the token from this cookie.")
    query_param: str | None = Field(
        None, description="Also read the token from this query parameter."
    )
    max_token_bytes: int = Field(
        8192, ge=256, le=65536, description="Longer tokens are refused before parsing."
    )
    cache_verified_tokens: bool = Field(
        True, description="Remember verified tokens (by sha256) until shortly before exp."
    )
    token_cache_size: int = Field(
        10_000, ge=1, le=1_000_000, description="Verified tokens remembered per route (LRU)."
    )
    jwks_ttl: float = Field(
        300.0, ge=5, le=86_400, description="Refresh the JWKS after this many seconds."
    )
    jwks_refresh_cooldown: float = Field(
        10.0, ge=0, le=3600, description="At most one unknown-kid refresh per this many seconds."
    )
    jwks_timeout: float = Field(2.0, gt=0, le=10, description="Timeout of one JWKS fetch, seconds.")
    realm: str = Field(
        "gateway", pattern=r"^[A-Za-z0-9 ._-]{1,64}$", description="Realm in WWW-Authenticate."
    )

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, algorithms: list[str]) -> list[str]:
        hmac = {a.startswith("HS") for a in algorithms}
        if len(hmac) > 1:
            raise ValueError("HMAC (HS*) and asymmetric algorithms cannot share one allowlist")
        if len(set(algorithms)) != len(algorithms):
            raise ValueError("each algorithm once")
        return algorithms

    @field_validator("jwks_url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("jwks_url must be an http:// or https:// URL")
        return url

    @field_validator("claims_to_headers")
    @classmethod
    def _claim_headers(cls, mapping: dict[str, str]) -> dict[str, str]:
        names = [check_header_name(name).lower() for name in mapping.values()]
        if len(set(names)) != len(names):
            raise ValueError("two claims map to the same header")
        return mapping

    @model_validator(mode="after")
    def _key_source(self) -> JwtConfig:
        sources = [s for s in (self.jwks_url, self.public_key_file, self.secret) if s is not None]
        if len(sources) != 1:
            raise ValueError("set exactly one of jwks_url, public_key_file, secret")
        hmac = self.algorithms[0].startswith("HS")
        if hmac != (self.secret is not None):
            raise ValueError("HS* algorithms need `secret`, and `secret` only HS* algorithms")
        if self.secret is not None:
            _check_secret(self.secret.get_secret_value(), self.algorithms)
        if self.public_key_file is not None:
            prepare(read_public_key(self.public_key_file), list(self.algorithms))
        _check_header_clash(self)
        return self


def _check_secret(secret: str, algorithms: list[str]) -> None:
    need = max(HMAC_MIN_BYTES[a] for a in algorithms)
    if len(secret.encode()) < need:
        raise ValueError(f"the secret must be at least {need} bytes for {', '.join(algorithms)}")


def _check_header_clash(config: JwtConfig) -> None:
    ident = config.identity_headers
    names = [ident.consumer, ident.subject, ident.scopes, *config.claims_to_headers.values()]
    if len({n.lower() for n in names}) != len(names):
        raise ValueError("claims_to_headers reuses an identity header name")


@dataclass(frozen=True, slots=True)
class Verified:
    identity: Identity
    headers: list[tuple[str, str]]


#: pyjwt exception -> reason, most specific first
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidIssuerError, "invalid_issuer"),
    (jwt.InvalidAudienceError, "invalid_audience"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidSignatureError, "invalid_signature"),
    (jwt.InvalidAlgorithmError, "invalid_algorithm"),
    (jwt.InvalidKeyError, "invalid_key"),
)


@register
class JwtPolicy(AuthPolicy):
    name = "jwt"
    Config = JwtConfig
    config: JwtConfig

    def __init__(self, config: JwtConfig, *, route_name: str, services: Services) -> None:
        super().__init__(config, route_name=route_name, services=services)
        self.keys: KeySource = _key_source(config, services)
        self.cache: TokenCache[Verified] | None = (
            TokenCache(config.token_cache_size, max_age=config.jwks_ttl)
            if config.cache_verified_tokens
            else None
        )
        self.required_scopes = frozenset(config.scopes)
        self.require = _required_claims(config)
        ident = config.identity_headers
        self.upstream_header_names = (
            ident.consumer,
            ident.subject,
            ident.scopes,
            *config.claims_to_headers.values(),
        )

    async def startup(self) -> None:
        await self.keys.startup()

    async def shutdown(self) -> None:
        await self.keys.close()

    async def authenticate(self, ctx: RequestContext) -> None:
        token = self._token(ctx)
        verified = self.cache.get(token) if self.cache is not None else None
        if verified is None:
            verified = await self._verify(token)
        if not self.required_scopes <= verified.identity.scopes:
            raise challenge.insufficient_scope(self.config.realm, self.required_scopes)
        ctx.identity = verified.identity
        add_upstream_headers(ctx, verified.headers)

    def _token(self, ctx: RequestContext) -> str:
        config = self.config
        token = bearer_token(ctx.request, cookie=config.cookie, query_param=config.query_param)
        if token is None:
            raise challenge.missing_token(config.realm)
        if len(token) > config.max_token_bytes:
            raise challenge.invalid_token(config.realm, "token_too_large")
        return token

    async def _verify(self, token: str) -> Verified:
        alg, kid = self._header(token)
        try:
            key = await self.keys.key(kid, alg)
        except KeyLookupError as error:
            raise challenge.invalid_token(self.config.realm, error.reason) from None
        except KeysUnavailable:
            raise challenge.keys_unavailable() from None
        claims = self._decode(token, key)
        verified = self._verified(claims)
        if self.cache is not None:
            self.cache.put(token, verified, float(claims["exp"]))
        return verified

    def _header(self, token: str) -> tuple[str, str | None]:
        """The token's ``alg`` (checked against the allowlist) and ``kid``, before any key lookup."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise challenge.invalid_token(self.config.realm, "invalid_token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.config.algorithms:
            raise challenge.invalid_token(self.config.realm, "invalid_algorithm")
        if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= 256):
            raise challenge.invalid_token(self.config.realm, "invalid_kid")
        return alg, kid

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        config = self.config
        try:
            return jwt.decode(
                token,
                key,
                algorithms=list(config.algorithms),
                issuer=config.issuer,
                audience=config.audience,
                leeway=config.leeway,
                options={"require": self.require, "enforce_minimum_key_length": True},
            )
        except jwt.PyJWTError as error:
            raise challenge.invalid_token(config.realm, _reason(error)) from None

    def _verified(self, claims: dict[str, Any]) -> Verified:
        granted = scopes(claims)
        consumer = str(
            claims.get(self.config.consumer_claim) or claims.get("client_id") or claims["sub"]
        )
        identity = Identity(
            consumer=consumer, subject=claims["sub"], scopes=granted, policy=self.name
        )
        ident = self.config.identity_headers
        headers = [
            (ident.consumer, header_value(consumer)),
            (ident.subject, header_value(claims["sub"])),
            (ident.scopes, header_value(" ".join(sorted(granted)))),
            *claim_headers(claims, self.config.claims_to_headers),
        ]
        return Verified(identity, headers)


def _key_source(config: JwtConfig, services: Services) -> KeySource:
    if config.jwks_url is not None:
        return shared_cache(
            services,
            config.jwks_url,
            ttl=config.jwks_ttl,
            cooldown=config.jwks_refresh_cooldown,
            timeout=config.jwks_timeout,
        )
    if config.public_key_file is not None:
        return StaticKeys(read_public_key(config.public_key_file), list(config.algorithms))
    assert config.secret is not None  # the config validator guarantees one source
    return StaticKeys(config.secret.get_secret_value().encode(), list(config.algorithms))


def _required_claims(config: JwtConfig) -> list[str]:
    names = [*ALWAYS_REQUIRED, *config.required_claims]
    if config.issuer is not None:
        names.append("iss")
    if config.audience is not None:
        names.append("aud")
    return list(dict.fromkeys(names))


def _reason(error: Exception) -> str:
    return next((reason for kind, reason in _REASONS if isinstance(error, kind)), "invalid_token")
