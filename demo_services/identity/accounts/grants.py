"""The two grants of ``POST /token`` and their errors (RFC 6749 sections 4.3, 4.4, 5.2).

Each grant takes the form fields (and the HTTP Basic credentials, if any) and returns
the subject, the granted scopes and extra claims, or raises an ``OAuthError``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password

from accounts.models import Profile, ServiceClient, split_scopes


class OAuthError(Exception):
    status_code = 400
    error = "invalid_request"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    status_code = 401
    error = "invalid_client"


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


@dataclass(frozen=True)
class Grant:
    subject: str
    scopes: list[str]
    extra: dict[str, str] = field(default_factory=dict)


Form = Mapping[str, str]


def narrow(allowed: list[str], requested: str | None) -> list[str]:
    """The requested scopes (all allowed ones when none were asked for)."""
    if requested is None or not requested.strip():
        return allowed
    wanted = split_scopes(requested)
    if not set(wanted) <= set(allowed):
        raise InvalidScope("the requested scope exceeds the granted scopes")
    return wanted


def password(form: Form, basic: tuple[str, str] | None) -> Grant:
    username, secret = form.get("username"), form.get("password")
    if not username or secret is None:
        raise InvalidRequest("username and password are required")
    user = authenticate(username=username, password=secret)
    if user is None:
        raise InvalidGrant("invalid username or password")
    profile = Profile.objects.filter(user=user).first()
    allowed = profile.scope_list() if profile else []
    return Grant(user.get_username(), narrow(allowed, form.get("scope")))


def client_credentials(form: Form, basic: tuple[str, str] | None) -> Grant:
    client_id, secret = basic or (form.get("client_id"), form.get("client_secret"))
    if not client_id or secret is None:
        raise InvalidClient("client authentication failed")
    client = ServiceClient.objects.filter(client_id=client_id).first()
    if client is None:
        make_password(secret)  # same cost as a real check
        raise InvalidClient("client authentication failed")
    if not client.check_secret(secret):
        raise InvalidClient("client authentication failed")
    scopes = narrow(client.scope_list(), form.get("scope"))
    return Grant(client.client_id, scopes, {"client_id": client.client_id})


GRANTS: dict[str, Callable[[Form, tuple[str, str] | None], Grant]] = {
    "password": password,
    "client_credentials": client_credentials,
}


def basic_credentials(header: str) -> tuple[str, str] | None:
    """``Authorization: Basic`` per RFC 6749 2.3.1 (form-urlencoded id and secret)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("malformed Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClient("malformed Basic credentials")
    return unquote_plus(client_id), unquote_plus(secret)


def run(form: Form, authorization: str) -> Grant:
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidRequest("grant_type is required")
    handler = GRANTS.get(grant_type)
    if handler is None:
        raise UnsupportedGrantType(f"grant_type {grant_type!r} is not supported")
    return handler(form, basic_credentials(authorization))
