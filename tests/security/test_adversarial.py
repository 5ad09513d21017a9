"""Adversarial requests sent as raw bytes to a real gateway (httpx would normalise them).

Routes: ``/api/orders`` -> the "orders" upstream (open), ``/api/admin`` -> the "admin"
upstream (only loopback through an ip allow list is not needed here: what matters is
that the route chosen for a request is the route whose upstream receives it, with the
same normalised path). Each case names its input and the expected outcome.
"""

from __future__ import annotations

import json
import socket

import pytest

from tests.support.gateway import GatewayProcess
from tests.support.upstream import Upstream


@pytest.fixture(scope="module")
def stack():
    orders, admin = Upstream("orders").start(), Upstream("admin").start()
    config = {
        "upstreams": {"orders": {"targets": [orders.url]}, "admin": {"targets": [admin.url]}},
        "routes": [
            {"name": "orders", "match": {"path_prefix": "/api/orders"}, "upstream": "orders"},
            {"name": "admin", "match": {"path_prefix": "/api/admin", "methods": ["GET"]}, "upstream": "admin"},
        ],
    }
    with GatewayProcess(config) as gw:
        yield gw
    orders.stop()
    admin.stop()


def send(port: int, raw: bytes) -> tuple[int, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode("latin-1")
    return int(lines[0].split(b" ")[1]), headers, body


def get(target: bytes, extra: bytes = b"") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: gw\r\n" + extra + b"Connection: close\r\n\r\n"


# (name, raw request, expected status, expected upstream or None, expected upstream path or None)
PATH_CASES = [
    ("dot-dot into admin", get(b"/api/orders/../admin/x"), 200, "admin", "/api/admin/x"),
    ("encoded dot-dot", get(b"/api/orders/%2e%2e/admin/x"), 200, "admin", "/api/admin/x"),
    ("upper-case encoded dot-dot", get(b"/api/orders/%2E%2E/admin/x"), 200, "admin", "/api/admin/x"),
    ("mixed dot encodings", get(b"/api/orders/.%2e/admin"), 200, "admin", "/api/admin"),
    ("single dot segments", get(b"/api/./orders/./7"), 200, "orders", "/api/orders/7"),
    ("double slash", get(b"/api//orders/7"), 200, "orders", "/api/orders/7"),
    ("many slashes", get(b"////api///admin"), 200, "admin", "/api/admin"),
    ("encoded unreserved letters", get(b"/api/%61dmin/x"), 200, "admin", "/api/admin/x"),
    ("encoded tilde", get(b"/api/orders/%7Euser"), 200, "orders", "/api/orders/~user"),
    ("encoded slash", get(b"/api/orders%2F..%2Fadmin"), 400, None, None),
    ("encoded slash lower", get(b"/api/orders%2f..%2fadmin"), 400, None, None),
    ("encoded backslash", get(b"/api/orders%5C..%5Cadmin"), 400, None, None),
    ("literal backslash", get(b"/api/orders\\..\\admin"), 400, None, None),
    ("encoded NUL", get(b"/api/admin%00.json"), 400, None, None),
    ("double encoding stays data", get(b"/api/orders/%252e%252e/admin"), 200, "orders", "/api/orders/%252e%252e/admin"),
    ("above the root", get(b"/../../etc/passwd"), 400, None, None),
    ("bad escape", get(b"/api/orders/%zz"), 400, None, None),
    ("case differs", get(b"/API/admin"), 404, None, None),
    ("prefix without boundary", get(b"/api/adminx"), 404, None, None),
    ("method other route allows", b"POST /api/admin/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 405, None, None),
    ("dot-dot inside the reserved namespace", get(b"/-/routes/../metrics"), 404, None, None),
    ("reserved via dot-dot", get(b"/api/../-/metrics"), 404, None, None),
    ("absolute-form authority is never an upstream", get(b"http://evil.example/api/orders"), 200, "orders", "/api/orders"),
    ("semicolon path params", get(b"/api/orders;/../admin"), 200, "admin", "/api/admin"),
    ("fragment is dropped, not routed", get(b"/api/orders#/../admin"), 200, "orders", "/api/orders"),
]

HEADER_CASES = [
    ("spoofed identity headers", get(b"/api/orders", b"X-Consumer: admin\r\nX-User-Id: 1\r\nX-Scopes: all\r\n"), 200, "orders",
     lambda h: not {"x-consumer", "x-user-id", "x-scopes"} & set(h)),
    ("spoofed X-Forwarded-For", get(b"/api/orders", b"X-Forwarded-For: 1.2.3.4\r\n"), 200, "orders",
     lambda h: h["x-forwarded-for"] == ["127.0.0.1"]),
    ("spoofed Forwarded", get(b"/api/orders", b"Forwarded: for=1.2.3.4\r\n"), 200, "orders",
     lambda h: h["forwarded"][0].startswith("for=127.0.0.1;")),
    ("spoofed X-Forwarded-Proto", get(b"/api/orders", b"X-Forwarded-Proto: https\r\n"), 200, "orders",
     lambda h: h["x-forwarded-proto"] == ["http"]),
    ("spoofed X-Forwarded-Host", get(b"/api/orders", b"X-Forwarded-Host: evil\r\n"), 200, "orders",
     lambda h: h["x-forwarded-host"] == ["gw"]),
    ("Connection names a header to strip", get(b"/api/orders", b"Connection: X-Secret\r\nX-Secret: s\r\n"), 200, "orders",
     lambda h: "x-secret" not in h),
    ("Connection names X-Forwarded-For", get(b"/api/orders", b"Connection: X-Forwarded-For\r\n"), 200, "orders",
     lambda h: h["x-forwarded-for"] == ["127.0.0.1"]),
    ("hop-by-hop Proxy-Authorization", get(b"/api/orders", b"Proxy-Authorization: Basic eA==\r\n"), 200, "orders",
     lambda h: "proxy-authorization" not in h),
    ("request id injection", get(b"/api/orders", b"X-Request-ID: a\tb\r\n"), 200, "orders",
     lambda h: h["x-request-id"][0] != "a\tb"),
    ("upgrade to websocket not proxied", get(b"/api/orders", b"Upgrade: websocket\r\n"), 200, "orders",
     lambda h: "upgrade" not in h),
]


@pytest.mark.parametrize("name,raw,status,upstream,path", PATH_CASES, ids=[c[0] for c in PATH_CASES])
def test_path_case(stack, name, raw, status, upstream, path):
    got, headers, body = send(stack.port, raw)
    assert got == status, body[:300]
    if upstream is not None:
        echo = json.loads(body)
        assert echo["server"] == upstream
        assert echo["raw_path"] == path
    else:
        assert headers["content-type"] == "application/problem+json"
        assert "content-length" in headers and b"Traceback" not in body


@pytest.mark.parametrize("name,raw,status,upstream,check", HEADER_CASES, ids=[c[0] for c in HEADER_CASES])
def test_header_case(stack, name, raw, status, upstream, check):
    got, headers, body = send(stack.port, raw)
    assert got == status, body[:300]
    echo = json.loads(body)
    assert echo["server"] == upstream
    seen: dict[str, list[str]] = {}
    for header, value in echo["headers"]:
        seen.setdefault(header.lower(), []).append(value)
    assert check(seen), seen
