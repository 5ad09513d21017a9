"""Each response leaves the gateway in one write: status line, headers and body together.

Read on the client's socket with Linux's ``TCP_INFO`` (``tcpi_data_segs_in``): stock
uvicorn sends the head and the body of every response as two segments.
"""

from __future__ import annotations

import socket
import struct
import time

import pytest

from tests.support.services import require_linux

DATA_SEGS_IN = 152  # offset of tcpi_data_segs_in in struct tcp_info (Linux >= 4.6)


def _data_segments_in(sock: socket.socket) -> int:
    require_linux("the test reads TCP_INFO's Linux layout")
    return struct.unpack_from("I", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256), DATA_SEGS_IN)[0]


def _exchange(sock: socket.socket, request: bytes) -> bytes:
    before = _data_segments_in(sock)
    sock.sendall(request)
    time.sleep(0.2)  # the whole response has arrived, however many segments it took
    sock.settimeout(2)
    data = sock.recv(1 << 20)
    assert _data_segments_in(sock) - before == 1, data
    return data


@pytest.mark.parametrize("path", ["/api/orders/1", "/no-route-here", "/-/health/live"])
def test_a_response_reaches_the_client_as_one_segment(gateway, path):
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        for _ in range(3):  # keep-alive: every response on the connection
            data = _exchange(sock, f"GET {path} HTTP/1.1\r\nHost: gw\r\n\r\n".encode())
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 ") and body
