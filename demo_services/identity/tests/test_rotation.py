"""Rotation: old and new tokens verify until the old key's tokens expire, then it is gone."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import jwt
import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts import keys
from accounts.models import SigningKey
from tests.conftest import Client, password_token, verify

pytestmark = pytest.mark.usefixtures("seeded")


def kids(client: Client) -> set[str]:
    return {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_old_and_new_tokens_verify_after_rotation(client: Client) -> None:
    old = password_token(client)
    call_command("rotate_signing_key", stdout=StringIO())
    new = password_token(client)
    assert kid_of(old) != kid_of(new)
    jwks = client.get("/.well-known/jwks.json").json()
    assert verify(old, jwks)["sub"] == verify(new, jwks)["sub"] == "demo"


def test_old_key_leaves_the_jwks_once_its_tokens_expired(client: Client) -> None:
    old_kid = kid_of(password_token(client))
    now = timezone.now()
    new_kid = keys.rotate(now).kid
    ttl = timedelta(seconds=900)
    published = {k.kid for k in keys.published(now + ttl - timedelta(seconds=1))}
    assert published == {old_kid, new_kid}
    assert {k.kid for k in keys.published(now + ttl)} == {new_kid}


def test_rotation_deletes_keys_past_their_window(db: None) -> None:
    now = timezone.now()
    first = keys.current(now).kid
    keys.rotate(now)
    keys.rotate(now + timedelta(seconds=901))
    assert not SigningKey.objects.filter(kid=first).exists()
    assert SigningKey.objects.count() == 2


def test_grace_zero_withdraws_the_old_key_at_once(client: Client) -> None:
    old_kid = kid_of(password_token(client))
    call_command("rotate_signing_key", "--grace", "0", stdout=StringIO())
    assert old_kid not in kids(client) and len(kids(client)) == 1


def test_purge_only_removes_expired_keys(db: None) -> None:
    keys.current()
    keys.rotate(grace=0)
    call_command("rotate_signing_key", "--purge", stdout=StringIO())
    assert SigningKey.objects.count() == 1


def test_short_ttl_token_of_removed_key_fails(client: Client, settings) -> None:
    settings.TOKEN_TTL = 1
    token = password_token(client)
    keys.rotate(timezone.now() - timedelta(seconds=2))  # retired before the window closed
    with pytest.raises(KeyError):
        verify(token, client.get("/.well-known/jwks.json").json())
