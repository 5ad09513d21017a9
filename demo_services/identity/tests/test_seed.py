from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from accounts.models import Profile, ServiceClient, SigningKey


def seed() -> None:
    call_command("seed_demo", stdout=StringIO())


@pytest.mark.django_db
def test_seed_demo_is_idempotent() -> None:
    seed()
    kid = SigningKey.objects.get().kid
    seed()
    assert User.objects.count() == Profile.objects.count() == ServiceClient.objects.count() == 1
    assert SigningKey.objects.get().kid == kid
    assert "orders:write" in User.objects.get().profile.scopes


@pytest.mark.django_db
def test_passwords_and_secrets_are_hashed() -> None:
    seed()
    user, client = User.objects.get(username="demo"), ServiceClient.objects.get()
    assert "demo-password" not in user.password and user.check_password("demo-password")
    assert "demo-secret" not in client.secret_hash and client.check_secret("demo-secret")
    assert user.password.startswith("md5$")  # the test hasher; Django's default in production
