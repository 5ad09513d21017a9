"""Where a bearer token can come from: the Authorization header, a cookie, a query parameter.

The header wins; a cookie or query parameter is read only when the route names one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.context import request_header

if TYPE_CHECKING:
    from django.http import HttpRequest


def bearer_token(
    request: HttpRequest, *, cookie: str | None = None, query_param: str | None = None
) -> str | None:
    token = _from_authorization(request_header(request, "Authorization"))
    if token is None and cookie:
        token = request.COOKIES.get(cookie) or None
    if token is None and query_param:
        token = request.GET.get(query_param) or None
    return token


def _from_authorization(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
