"""Request limits enforced before any body byte is read (the server does not enforce them).

uvicorn's httptools parser accepts a megabyte of headers; Django would read any body
into a spooled file. The gateway refuses early, with problem+json: 414 for a long
request target, 431 for too many or too large headers (a 100 KB token never reaches a
JWT parser), 413 for a declared or streamed body over the gateway-wide maximum (routes
may set a lower one with the ``request_size_limit`` policy).
"""

from __future__ import annotations

from gateway.errors import GatewayError, HeadersTooLarge, PayloadTooLarge, URITooLong


def check_head(scope: dict, limits) -> GatewayError | None:
    target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    if target > limits.max_url_bytes:
        return URITooLong(reason="url_too_long")
    headers = scope["headers"]
    if len(headers) > limits.max_headers:
        return HeadersTooLarge("Too many request header fields.", reason="too_many_headers")
    size = 0
    declared = None
    for name, value in headers:
        size += len(name) + len(value) + 4
        if name == b"content-length":
            declared = value
    if size > limits.max_header_bytes:
        return HeadersTooLarge(reason="headers_too_large")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
        return PayloadTooLarge(reason="body_too_large")
    return None
