"""Auth errors with RFC 6750 challenges.

Every error carries ``reason`` (for logs and ``gateway_auth_failures_total``) and
``credentials_present`` (for the "any of" group: the refusal of a policy that saw
credentials is the one the client hears). The client gets a short, generic description:
which check failed exactly is for the logs.
"""

from __future__ import annotations

from typing import TypeVar

from gateway.errors import Forbidden, GatewayError, ServiceUnavailable, Unauthorized

E = TypeVar("E", bound=GatewayError)

DESCRIPTIONS = {
    "expired": "The access token expired.",
    "token_too_large": "The access token is too large.",
}
INVALID = "The access token is invalid."


def bearer_challenge(
    realm: str, error: str | None = None, description: str = "", **extra: str
) -> str:
    """``Bearer realm="...", error="...", ...``: no ``error`` when credentials are missing."""
    params = {"realm": realm}
    if error:
        params["error"] = error
        params["error_description"] = description
    params.update(extra)
    return "Bearer " + ", ".join(f'{name}="{_quotable(value)}"' for name, value in params.items())


def _quotable(value: str) -> str:
    """Keep a challenge parameter inside its quoted-string (no quote, backslash, control)."""
    return "".join(c for c in value if c.isprintable() and c not in '"\\')


def missing_token(realm: str, detail: str = "An access token is required.") -> Unauthorized:
    return _mark(Unauthorized(detail, headers=[_www(realm)], reason="missing_token"), present=False)


def invalid_token(realm: str, reason: str) -> Unauthorized:
    description = DESCRIPTIONS.get(reason, INVALID)
    header = _www(realm, "invalid_token", description)
    return _mark(Unauthorized(description, headers=[header], reason=reason), present=True)


def insufficient_scope(realm: str, scopes: frozenset[str] | list[str]) -> Forbidden:
    wanted = " ".join(sorted(scopes))
    description = "The access token does not grant the scope this resource requires."
    header = _www(realm, "insufficient_scope", description, scope=wanted)
    return _mark(
        Forbidden(description, headers=[header], reason="insufficient_scope"), present=True
    )


def keys_unavailable() -> ServiceUnavailable:
    """No key to verify with: answer 503, never let the request through."""
    error = ServiceUnavailable(
        "Authentication is temporarily unavailable; try again shortly.",
        headers=[("Retry-After", "5")],
        reason="jwks_unavailable",
    )
    return _mark(error, present=True)


def invalid_api_key(
    detail: str = "The API key is invalid.", reason: str = "invalid_api_key"
) -> Unauthorized:
    return _mark(Unauthorized(detail, reason=reason), present=True)


def missing_api_key(header: str) -> Unauthorized:
    return _mark(
        Unauthorized(f"An API key is required in the {header} header.", reason="missing_api_key"),
        present=False,
    )


def consumer_not_allowed() -> Forbidden:
    return _mark(Forbidden(reason="consumer_not_allowed"), present=True)


def _www(
    realm: str, error: str | None = None, description: str = "", **extra: str
) -> tuple[str, str]:
    return ("WWW-Authenticate", bearer_challenge(realm, error, description, **extra))


def _mark(error: E, *, present: bool) -> E:
    error.credentials_present = present  # type: ignore[attr-defined]
    return error
