"""DRF authentication and permissions trusting the gateway's identity headers."""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

SECRET_HEADER = "X-Gateway-Secret"


@dataclass(frozen=True)
class GatewayUser:
    """The caller as the gateway vouched for it."""

    id: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    consumer: str = ""
    is_authenticated: bool = True

    def __str__(self) -> str:
        return self.id


class GatewayHeaderAuthentication(BaseAuthentication):
    """Reads ``X-User-Id`` (or ``X-Consumer`` for clients), ``X-Scopes`` and ``X-Consumer``."""

    def authenticate(self, request: Request) -> tuple[GatewayUser, None] | None:
        headers = request.headers
        self._check_secret(headers.get(SECRET_HEADER, ""))
        user_id = headers.get("X-User-Id") or headers.get("X-Consumer")
        if not user_id:
            return None
        scopes = frozenset(headers.get("X-Scopes", "").split())
        return GatewayUser(user_id, scopes, headers.get("X-Consumer", "")), None

    def authenticate_header(self, request: Request) -> str:
        return 'Gateway realm="demo"'

    @staticmethod
    def _check_secret(sent: str) -> None:
        expected = os.environ.get("GATEWAY_SHARED_SECRET", "")
        if expected and not hmac.compare_digest(sent.encode(), expected.encode()):
            raise exceptions.AuthenticationFailed("request did not come through the gateway")


class ScopePermission(BasePermission):
    """Grants access when the caller holds every scope in ``required``."""

    required: frozenset[str] = frozenset()
    message = "insufficient scope"

    def has_permission(self, request: Request, view: object) -> bool:
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False
        return self.required <= getattr(user, "scopes", frozenset())


def scope(*names: str) -> type[ScopePermission]:
    """A permission class requiring ``names``, e.g. ``scope("orders:read")``."""
    return type(f"Scope_{'_'.join(names)}", (ScopePermission,), {"required": frozenset(names)})


class GatewayHeaderScheme(OpenApiAuthenticationExtension):  # type: ignore[misc]
    """Documents the trust boundary in the OpenAPI schema."""

    target_class = GatewayHeaderAuthentication
    name = "gatewayIdentity"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-User-Id",
                "description": "Set by the gateway after it authenticated the caller (with "
                               "X-Scopes and X-Consumer); never sent by clients directly."}
