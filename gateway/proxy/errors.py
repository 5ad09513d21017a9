"""The one place where upstream client exceptions become gateway errors.

httpx.HTTPError
 ├── TransportError
 │    ├── TimeoutException: ConnectTimeout, ReadTimeout, WriteTimeout -> 504 timeout
 │    │                     PoolTimeout                                -> 503 timeout
 │    ├── NetworkError: ConnectError -> 502 connect; ReadError, WriteError, CloseError -> 502 protocol
 │    ├── ProtocolError: LocalProtocolError, RemoteProtocolError   -> 502 protocol
 │    ├── ProxyError, UnsupportedProtocol                            -> 502 protocol
 ├── DecodingError, TooManyRedirects                                 -> 502 protocol
 └── (StreamError and others)                                        -> 502 protocol
"""

from __future__ import annotations

import httpx

from gateway.errors import BadGateway, GatewayError, GatewayTimeout, ServiceUnavailable

_MAPPING: tuple[tuple[type[Exception], type[GatewayError], str], ...] = (
    (httpx.PoolTimeout, ServiceUnavailable, "timeout"),
    (httpx.TimeoutException, GatewayTimeout, "timeout"),
    (httpx.ConnectError, BadGateway, "connect"),
    (httpx.HTTPError, BadGateway, "protocol"),
    (httpx.StreamError, BadGateway, "protocol"),
    (OSError, BadGateway, "connect"),
)


def map_upstream_exception(exc: Exception) -> tuple[GatewayError, str]:
    """The gateway error for a failed upstream call and its ``kind`` metric label."""
    for source, error, kind in _MAPPING:
        if isinstance(exc, source):
            return error(reason=f"upstream_{kind}"), kind
    raise exc
