"""A live OTLP/HTTP receiver for the benchmark: accepts every export, counts, discards.

``python -m bench.otlp_sink PORT``. The exporter pays its real cost (serialising and
sending batches); the sink answers 200 with an empty ExportTraceServiceResponse.
"""

from __future__ import annotations

import sys

from aiohttp import web

received = {"requests": 0, "bytes": 0}


async def export(request: web.Request) -> web.Response:
    body = await request.read()
    received["requests"] += 1
    received["bytes"] += len(body)
    return web.Response(body=b"", content_type="application/x-protobuf")


async def stats(request: web.Request) -> web.Response:
    return web.json_response(received)


def main() -> None:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/{signal}", export)
    app.router.add_get("/", stats)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
