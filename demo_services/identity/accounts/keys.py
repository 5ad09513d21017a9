"""Signing keys: the current one, rotation, and the JWKS of every key still published.

A key signs while it is current (``retired_at`` empty). Rotation retires it and keeps
publishing its public key for ``grace`` seconds (default: the token TTL, so every
token it signed can still be verified); after that it leaves the JWKS and is deleted
by the next rotation or purge. ``grace=0`` withdraws it at once (a compromised key).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from jwt.algorithms import RSAAlgorithm

from accounts.models import SigningKey

ALGORITHM = "RS256"


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def generate(now: datetime | None = None) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    kid = f"{thumbprint(private.public_key())[:16]}-{secrets.token_hex(4)}"
    return SigningKey.objects.create(kid=kid, private_pem=pem, created_at=_now(now))


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url)."""
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def current(now: datetime | None = None) -> SigningKey:
    """The newest key that is not retired; generated on first use."""
    return SigningKey.objects.filter(retired_at__isnull=True).first() or generate(now)


def rotate(now: datetime | None = None, grace: float | None = None) -> SigningKey:
    """Retire the current key(s), published ``grace`` seconds more; return the new key."""
    now = _now(now)
    grace = settings.TOKEN_TTL if grace is None else grace
    with transaction.atomic():
        SigningKey.objects.filter(retired_at__isnull=True).update(
            retired_at=now, published_until=now + timedelta(seconds=grace)
        )
        key = generate(now)
    purge(now)
    return key


def published(now: datetime | None = None) -> QuerySet[SigningKey]:
    now = _now(now)
    return SigningKey.objects.filter(Q(retired_at__isnull=True) | Q(published_until__gt=now))


def purge(now: datetime | None = None) -> int:
    """Delete retired keys whose publication window has passed."""
    stale = SigningKey.objects.filter(retired_at__isnull=False, published_until__lte=_now(now))
    return stale.delete()[0]


def public_jwk(key: SigningKey) -> dict[str, Any]:
    private = serialization.load_pem_private_key(key.private_pem.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return {**jwk, "kid": key.kid, "use": "sig", "alg": ALGORITHM}


def jwks(now: datetime | None = None) -> dict[str, Any]:
    current(now)  # never an empty set
    return {"keys": [public_jwk(key) for key in published(now)]}
