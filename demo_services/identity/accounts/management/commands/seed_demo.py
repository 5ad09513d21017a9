"""Idempotent demo data: user ``demo``, client ``demo-client`` and a signing key (DESIGN.md 9)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from accounts import keys
from accounts.models import Profile, ServiceClient

DEMO_SCOPES = "orders:read orders:write inventory:read notifications:read"


def seed_user(username: str, password: str, scopes: str) -> None:
    user, _ = get_user_model().objects.get_or_create(username=username)
    if not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    Profile.objects.update_or_create(user=user, defaults={"scopes": scopes})


def seed_client(client_id: str, secret: str, scopes: str) -> None:
    client, created = ServiceClient.objects.get_or_create(
        client_id=client_id, defaults={"scopes": scopes}
    )
    if created or not client.check_secret(secret) or client.scopes != scopes:
        client.set_secret(secret)
        client.scopes = scopes
        client.is_active = True
        client.save()


class Command(BaseCommand):
    help = "Create the demo user, the demo client and a signing key (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        seed_user("demo", "demo-password", DEMO_SCOPES)
        seed_client("demo-client", "demo-secret", DEMO_SCOPES)
        key = keys.current()
        self.stdout.write(f"demo user, demo client and key {key.kid} ready")
