"""One fetched JWK Set, indexed by ``kid``, each member parsed by pyjwt's ``PyJWK``.

(``PyJWKSet`` does the same loop but drops the link between a parsed key and its JSON
member, which a key without ``alg`` needs; like it, unusable members are skipped.)

A key that declares its ``alg`` verifies only that algorithm (pyjwt enforces it). A key
without ``alg`` is bound to the token's algorithm, which the caller has already checked
against the route's allowlist; pyjwt then refuses a key of the wrong type for it. Keys
marked for encryption (``use: enc``) never verify signatures.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
from jwt import PyJWK


class KeySet:
    def __init__(self, keys: dict[str, dict[str, Any]], parsed: dict[str, PyJWK]) -> None:
        self._raw = keys
        self._parsed = parsed
        self._bound: dict[tuple[str, str], PyJWK] = {}

    @classmethod
    def from_json(cls, body: bytes | str) -> KeySet:
        """Parse a JWKS document; raises ``ValueError`` when it holds no usable signing key."""
        try:
            document = json.loads(body)
            members = document["keys"]
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError("not a JWK Set document") from exc
        if not isinstance(members, list):
            raise ValueError("not a JWK Set document")  # noqa: TRY004 (bad content, not a bad call)
        raw: dict[str, dict[str, Any]] = {}
        parsed: dict[str, PyJWK] = {}
        for member in members:
            _add(member, raw, parsed)
        if not parsed:
            raise ValueError("the JWK Set holds no usable signing key")
        return cls(raw, parsed)

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._parsed)

    def key(self, kid: str | None, alg: str) -> PyJWK | None:
        """The key for ``kid`` (or the only key, for a token without ``kid``), or ``None``."""
        if kid is None:
            if len(self._parsed) != 1:
                return None
            (kid,) = self._parsed
        parsed = self._parsed.get(kid)
        if parsed is None or "alg" in self._raw[kid]:
            return parsed
        return self._bound_to(kid, alg)

    def _bound_to(self, kid: str, alg: str) -> PyJWK | None:
        bound = self._bound.get((kid, alg))
        if bound is None:
            try:
                bound = PyJWK(self._raw[kid], algorithm=alg)
            except jwt.PyJWTError:
                return None
            self._bound[(kid, alg)] = bound
        return bound


def _add(member: Any, raw: dict[str, dict[str, Any]], parsed: dict[str, PyJWK]) -> None:
    if not isinstance(member, dict) or member.get("use", "sig") != "sig":
        return
    kid = member.get("kid", "")
    if not isinstance(kid, str) or kid in parsed:
        return
    try:
        parsed[kid] = PyJWK(member)
    except jwt.PyJWTError:
        return
    raw[kid] = member
