"""A real HTTP upstream (aiohttp) on a loopback port, run in a background thread.

``/echo/...`` answers with what it received, byte for byte where it matters: the raw
request target, the raw header list and the body's length and sha256. Other paths
make the upstream misbehave on purpose (slow, streaming, closing the connection...).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading

from aiohttp import web

from tests.support.net import free_port

NAME = web.AppKey("name", str)
BEHAVIOUR = web.AppKey("behaviour", dict)


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    payload = {
        "method": request.method,
        "raw_path": request.raw_path,
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers],
        "body_length": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "server": request.app[NAME],
    }
    return web.json_response(payload, headers={"Server": "upstream-secret/1.0", "X-Upstream": request.app[NAME]})


async def stream(request: web.Request) -> web.StreamResponse:
    size = int(request.match_info["size"])
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    if request.query.get("sized") == "1":
        response.content_length = size
    else:
        response.enable_chunked_encoding()
    await response.prepare(request)
    chunk = b"x" * 65536
    sent = 0
    while sent < size:
        part = chunk[: min(len(chunk), size - sent)]
        await response.write(part)
        sent += len(part)
    await response.write_eof()
    return response


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("seconds", "5")))
    return web.Response(text="late")


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    headers = {}
    if code in (301, 302, 303, 307, 308):
        headers["Location"] = "/elsewhere"
    if code == 304:
        headers["ETag"] = '"abc"'
    body = None if code in (204, 304) else f"status {code}"
    return web.Response(status=code, text=body, headers=headers)


async def cookies(request: web.Request) -> web.Response:
    response = web.Response(text="cookies")
    response.headers.add("Set-Cookie", "a=1; Path=/")
    response.headers.add("Set-Cookie", "b=2; Path=/; HttpOnly")
    response.headers.add("Connection", "X-Secret-Hop")
    response.headers.add("X-Secret-Hop", "should not pass")
    response.headers.add("Keep-Alive", "timeout=5")
    return response


async def close(request: web.Request) -> web.StreamResponse:
    request.transport.close()  # hang up without an answer
    raise asyncio.CancelledError


async def gzip_body(request: web.Request) -> web.Response:
    import gzip

    data = gzip.compress(b"hello compressed world" * 10)
    return web.Response(body=data, headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"})


async def flaky(request: web.Request) -> web.Response:
    """Answers with the status the test set (``upstream.behaviour["status"]``), after an optional delay."""
    behaviour = request.app[BEHAVIOUR]
    behaviour["hits"] = behaviour.get("hits", 0) + 1
    if behaviour.get("delay"):
        await asyncio.sleep(behaviour["delay"])
    status = behaviour.get("status", 200)
    return web.Response(status=status, text=f"{request.app[NAME]} {status}")


def build_app(name: str, behaviour: dict | None = None) -> web.Application:
    app = web.Application(client_max_size=100 * 1024 * 1024)
    app[NAME] = name
    app[BEHAVIOUR] = behaviour if behaviour is not None else {}
    app.router.add_route("*", "/flaky{tail:.*}", flaky)
    app.router.add_route("*", "/stream/{size}", stream)
    app.router.add_route("*", "/slow", slow)
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_route("*", "/cookies", cookies)
    app.router.add_route("*", "/close", close)
    app.router.add_route("*", "/gzip", gzip_body)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


class Upstream:
    """Start with ``Upstream(name).start()``; ``url`` is its base URL."""

    def __init__(self, name: str = "upstream") -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        #: what /flaky does: {"status": 503, "delay": 0.5}; "hits" counts requests
        self.behaviour: dict = {}

    def start(self) -> Upstream:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(build_app(self.name, self.behaviour), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)


class Blackhole:
    """Accepts TCP connections and never answers (until stopped)."""

    def __init__(self) -> None:
        import socket

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(128)  # the kernel completes handshakes; nobody ever reads

    def stop(self) -> None:
        self._sock.close()


def parse_echo(response) -> dict:
    return json.loads(response.content)
