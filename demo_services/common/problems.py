"""Errors rendered as RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

CONTENT_TYPE = "application/problem+json"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "conflict"
    default_code = "conflict"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "a dependency is unavailable"
    default_code = "unavailable"


def problem_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    body: dict[str, Any] = {"type": "about:blank", "status": response.status_code,
                            "title": _title(exc)}
    if isinstance(exc, exceptions.ValidationError):
        body["detail"] = "the request is invalid"
        body["errors"] = response.data
    else:
        body["detail"] = str(exc.detail)
        codes = exc.get_codes()
        body["code"] = codes if isinstance(codes, str) else exc.default_code
    response.data = body
    response.content_type = CONTENT_TYPE
    return response


def _title(exc: exceptions.APIException) -> str:
    return str(exc.default_code).replace("_", " ").capitalize()
