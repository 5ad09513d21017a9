"""Users' scopes, service clients and RSA signing keys."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import models


def split_scopes(text: str) -> list[str]:
    return list(dict.fromkeys(text.split()))


class Profile(models.Model):
    """The scopes a user may be granted (Django's User keeps the hashed password)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    scopes = models.TextField(blank=True, default="", help_text="Space-separated scopes.")

    def scope_list(self) -> list[str]:
        return split_scopes(self.scopes)


class ServiceClient(models.Model):
    """A machine client of the client-credentials grant; its secret is stored hashed."""

    client_id = models.CharField(max_length=100, unique=True)
    secret_hash = models.CharField(max_length=256)
    scopes = models.TextField(blank=True, default="", help_text="Space-separated scopes.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def set_secret(self, secret: str) -> None:
        self.secret_hash = make_password(secret)

    def check_secret(self, secret: str) -> bool:
        return self.is_active and check_password(secret, self.secret_hash)

    def scope_list(self) -> list[str]:
        return split_scopes(self.scopes)


class SigningKey(models.Model):
    """An RS256 key. Current while ``retired_at`` is empty; published until ``published_until``."""

    kid = models.CharField(max_length=64, unique=True)
    private_pem = models.TextField()
    created_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)
    published_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
