"""Access tokens: RS256 JWTs signed with the current key, ``kid`` in the header."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import jwt
from django.conf import settings
from django.utils import timezone

from accounts import keys


def claims(subject: str, scopes: list[str], now: datetime, **extra: str) -> dict[str, Any]:
    issued = int(now.timestamp())
    return {
        "iss": settings.TOKEN_ISSUER,
        "sub": subject,
        "aud": settings.TOKEN_AUDIENCE,
        "iat": issued,
        "nbf": issued,
        "exp": issued + settings.TOKEN_TTL,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(scopes),
        **extra,
    }


def issue(
    subject: str, scopes: list[str], now: datetime | None = None, **extra: str
) -> dict[str, Any]:
    """The token response of RFC 6749 section 5.1."""
    now = now or timezone.now()
    key = keys.current(now)
    payload = claims(subject, scopes, now, **extra)
    token = jwt.encode(payload, key.private_pem, algorithm=keys.ALGORITHM, headers={"kid": key.kid})
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": settings.TOKEN_TTL,
        "scope": payload["scope"],
    }
