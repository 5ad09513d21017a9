"""Errors the gateway answers itself, rendered as RFC 9457 problem+json.

GatewayError
 ├── BadRequest (400)            ├── MethodNotAllowed (405)
 ├── Unauthorized (401)          ├── PayloadTooLarge (413)
 ├── Forbidden (403)             ├── URITooLong (414)
 ├── NotFound (404)              ├── HeadersTooLarge (431)
 ├── TooManyRequests (429)       ├── BadGateway (502)
 ├── ServiceUnavailable (503)    └── GatewayTimeout (504)

Each class declares its status and title; ``detail`` says what the client needs to
know and never more (no upstream address, no stack trace).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.http import HttpResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"


class GatewayError(Exception):
    status_code: int = 500
    title: str = "Internal Server Error"
    default_detail: str = "The gateway could not handle the request."
    type_uri: str = "about:blank"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Iterable[tuple[str, str]] = (),
        reason: str | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        self.headers = list(headers)
        #: machine-readable cause for logs and metrics; never sent to the client
        self.reason = reason or self.__class__.__name__
        super().__init__(self.detail)

    def to_response(self, request_id: str = "") -> HttpResponse:
        return problem_response(
            self.status_code, self.title, self.detail, request_id, self.headers, self.type_uri
        )


def problem_response(
    status: int,
    title: str,
    detail: str,
    request_id: str = "",
    headers: Iterable[tuple[str, str]] = (),
    type_uri: str = "about:blank",
) -> HttpResponse:
    body = {"type": type_uri, "title": title, "status": status, "detail": detail}
    if request_id:
        body["request_id"] = request_id
    response = HttpResponse(
        json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE
    )
    for name, value in headers:
        response[name] = value
    return response


class BadRequest(GatewayError):
    status_code, title = 400, "Bad Request"
    default_detail = "The request could not be understood."


class Unauthorized(GatewayError):
    status_code, title = 401, "Unauthorized"
    default_detail = "Valid credentials are required."


class Forbidden(GatewayError):
    status_code, title = 403, "Forbidden"
    default_detail = "The credentials do not grant access to this resource."


class NotFound(GatewayError):
    status_code, title = 404, "Not Found"
    default_detail = "No route matches this request."


class MethodNotAllowed(GatewayError):
    status_code, title = 405, "Method Not Allowed"
    default_detail = "The route does not allow this method."


class PayloadTooLarge(GatewayError):
    status_code, title = 413, "Content Too Large"
    default_detail = "The request body is larger than this route accepts."


class URITooLong(GatewayError):
    status_code, title = 414, "URI Too Long"
    default_detail = "The request URI is longer than the gateway accepts."


class TooManyRequests(GatewayError):
    status_code, title = 429, "Too Many Requests"
    default_detail = "Rate limit exceeded."


class HeadersTooLarge(GatewayError):
    status_code, title = 431, "Request Header Fields Too Large"
    default_detail = "The request headers are larger than the gateway accepts."


class BadGateway(GatewayError):
    status_code, title = 502, "Bad Gateway"
    default_detail = "The upstream service could not be reached or answered badly."


class ServiceUnavailable(GatewayError):
    status_code, title = 503, "Service Unavailable"
    default_detail = "The service is temporarily unavailable."


class GatewayTimeout(GatewayError):
    status_code, title = 504, "Gateway Timeout"
    default_detail = "The upstream service did not answer in time."
