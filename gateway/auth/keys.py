"""Where a policy gets the key that verifies a token: a JWKS URL, a PEM file, a secret.

Every source answers ``await source.key(kid, alg)`` with a key pyjwt accepts, or raises
one of the errors below; ``alg`` is already known to be in the route's allowlist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import jwt


class KeyLookupError(Exception):
    reason = "invalid_token"


class UnknownKid(KeyLookupError):
    reason = "unknown_kid"


class WrongKeyType(KeyLookupError):
    """The key named by ``kid`` cannot verify the token's algorithm."""

    reason = "invalid_algorithm"


class KeysUnavailable(Exception):
    """No key set was ever fetched and the JWKS endpoint does not answer."""


class KeySource(Protocol):
    async def key(self, kid: str | None, alg: str) -> Any: ...

    async def startup(self) -> None: ...

    async def close(self) -> None: ...


class StaticKeys:
    """One key, prepared once per algorithm of the allowlist (PEM file or HMAC secret)."""

    def __init__(self, material: str | bytes, algorithms: list[str]) -> None:
        self._keys = prepare(material, algorithms)

    async def key(self, kid: str | None, alg: str) -> Any:
        return self._keys[alg]

    async def startup(self) -> None:
        return None

    async def close(self) -> None:
        return None


def prepare(material: str | bytes, algorithms: list[str]) -> dict[str, Any]:
    """Check ``material`` suits every algorithm; raises ``ValueError`` naming the misfit."""
    prepared: dict[str, Any] = {}
    for alg in algorithms:
        try:
            prepared[alg] = jwt.get_algorithm_by_name(alg).prepare_key(material)
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise ValueError(f"the key does not suit {alg}: {exc}") from exc
    return prepared


def read_public_key(path: str) -> bytes:
    """A PEM public key (or certificate); a private key here is refused as a mistake."""
    data = Path(path).read_bytes()
    if b"PRIVATE KEY" in data:
        raise ValueError(f"{path} holds a private key; give the gateway only the public key")
    return data
