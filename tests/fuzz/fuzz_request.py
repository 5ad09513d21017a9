"""Fuzz target: any request head through the real Django handler and proxy view.

The upstream transport is replaced by an in-process one (httpx.MockTransport) so the
fuzzer exercises the gateway's own code: limits, normalisation, routing, headers.
Invariants: no exception escapes, never a 500, every gateway-written error is
problem+json, and the upstream never sees a path outside the route's prefix.

python -m tests.fuzz.fuzz_request -max_total_time=60 [corpus_dir]
"""

from __future__ import annotations

import asyncio
import os
import sys

import atheris

with atheris.instrument_imports():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
    import django

    django.setup()
    import logging

    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    import httpx

    from gateway import runtime as runtime_module
    from gateway.config.loader import load_config_text
    from gateway.handler import GatewayASGIHandler

CONFIG = """
gateway: {limits: {max_body_bytes: 4096}}
upstreams: {a: {targets: ["http://upstream.test:8080/base"]}}
routes:
  - {name: api, match: {path_prefix: /api/orders, methods: [GET, POST]}, upstream: a, strip_prefix: /api}
  - {name: root, match: {path_prefix: /public}, upstream: a}
"""
METHODS = [b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"PATCH", b"TRACE", b"BREW"]
PREFIXES = [b"/", b"/api/orders", b"/api/orders/", b"/public/", b"/api/%2e%2e/", b"/-/", b"//api/orders/"]
seen_paths: list[str] = []


def upstream(request: httpx.Request) -> httpx.Response:
    seen_paths.append(request.url.raw_path.decode("ascii"))
    return httpx.Response(200, content=b"ok", headers={"Content-Length": "2"})


def build_runtime():
    config, policies = load_config_text(CONFIG)
    runtime = runtime_module.Runtime(config, policies, "fuzz")
    transport = httpx.MockTransport(upstream)
    runtime.client = httpx.AsyncClient(transport=transport)
    runtime.transport = transport
    runtime.ready = True
    runtime_module.install(runtime)


LOOP = asyncio.new_event_loop()
HANDLER = GatewayASGIHandler()


def scope_from(data: bytes) -> tuple[dict, bytes]:
    fdp = atheris.FuzzedDataProvider(data)
    method = METHODS[fdp.ConsumeIntInRange(0, len(METHODS) - 1)]
    prefix = PREFIXES[fdp.ConsumeIntInRange(0, len(PREFIXES) - 1)]
    raw_path = prefix + fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300))
    query = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 100))
    headers = [(b"host", fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40)) or b"gw")]
    for _ in range(fdp.ConsumeIntInRange(0, 12)):
        name = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 30)).lower()
        headers.append((name, fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200))))
    body = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 6000))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method.decode("latin-1"),
             "scheme": "http", "path": raw_path.decode("latin-1"), "raw_path": raw_path, "query_string": query,
             "root_path": "", "headers": headers, "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    return scope, body


async def run(scope: dict, body: bytes) -> list[dict]:
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    await asyncio.wait_for(HANDLER(scope, receive, send), 5)
    return sent


def check(data: bytes) -> None:
    scope, body = scope_from(data)
    seen_paths.clear()
    try:
        sent = LOOP.run_until_complete(run(scope, body))
    except (UnicodeDecodeError, ValueError):
        return  # the ASGI server would never deliver such a scope (non-latin-1 method, etc.)
    start = next(m for m in sent if m["type"] == "http.response.start")
    status = start["status"]
    assert status != 500, (scope, sent)
    headers = {name.lower(): value for name, value in start["headers"]}
    if status >= 400:
        assert headers.get(b"content-type", b"").startswith(b"application/problem+json") or status == 400, sent
    for path in seen_paths:
        assert path.startswith(("/base/orders", "/base/public")), (scope["raw_path"], path)


def main() -> None:
    build_runtime()
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
