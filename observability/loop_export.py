"""OTLP/HTTP span export from the event loop that serves the requests (the gateway's).

Why not the SDK's ``BatchSpanProcessor``: its export thread encodes whole batches in
Python while the event loop waits for the GIL. Measured on the gateway (one worker,
every request traced): 40% of the throughput gone and p99 at half load above 100 ms,
from the GIL hand-offs rather than from the encoding itself. Here finished spans are
queued (bounded, dropped beyond ``OTEL_BSP_MAX_QUEUE_SIZE``) and encoded
(``observability.span_encoding``, held equal to the official encoder) in small slices
(``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``, default 64) between requests, or all at once by
``encode_queued()`` while they are fresh, then POSTed without blocking by aiohttp (a
110 kB post costs 120 us of CPU there, 480 us through httpx's default transport). A
dead or slow collector costs a warning per interval and dropped spans, never a slower
request.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import time
from collections import deque

import aiohttp
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.util.re import parse_env_headers

from observability.span_encoding import encode

logger = logging.getLogger("observability.tracing")
WARN_EVERY = 30.0
POST_SLICES = 8


def _env(name: str, default: str) -> str:
    return os.environ.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or os.environ.get(f"OTEL_EXPORTER_OTLP_{name}") or default


def endpoint() -> str:
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")
    return base.rstrip("/") + "/v1/traces"


class LoopSpanProcessor(SpanProcessor):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.url = endpoint()
        self.headers = {**parse_env_headers(_env("HEADERS", ""), liberal=True),
                        "Content-Type": "application/x-protobuf"}
        self.gzip = _env("COMPRESSION", "none").lower() == "gzip"
        if self.gzip:
            self.headers["Content-Encoding"] = "gzip"
        self.timeout = float(_env("TIMEOUT", "2"))
        self.batch = int(os.environ.get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64"))
        self.delay = int(os.environ.get("OTEL_BSP_SCHEDULE_DELAY", "200")) / 1000
        self.max_queue = int(os.environ.get("OTEL_BSP_MAX_QUEUE_SIZE", "2048"))
        self.queue: deque[ReadableSpan] = deque()
        self.encoded: list[tuple[bytes, int]] = []  # (encoded spans, how many) for the next POST
        self.encoded_count = 0
        self.dropped = 0
        self._warned = 0.0
        self.loop = loop
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self.task = loop.create_task(self._run())

    def on_end(self, span: ReadableSpan) -> None:
        if len(self.queue) + self.encoded_count < self.max_queue:
            self.queue.append(span)
        else:
            self.dropped += 1

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.delay)
            await self.export_queued()

    def encode_queued(self) -> None:
        """Encode what is queued now (up to ``POST_SLICES`` slices) for the next POST. The
        gateway calls it every 20 ms, with the metrics of its last requests, whose spans
        are still in the CPU's caches: encoding them up to 200 ms later, between requests,
        cost ~2% of the throughput (``bench.paired``, one worker)."""
        queue = self.queue
        size = min(len(queue), POST_SLICES * self.batch)
        if size:
            spans = [queue.popleft() for _ in range(size)]
            self.encoded.append((encode(spans), size))
            self.encoded_count += size

    async def export_queued(self) -> None:
        """Encode what is queued one slice at a time, letting requests run in between, and
        send it with what ``encode_queued`` encoded, up to ``POST_SLICES`` parts per request:
        serialised ExportTraceServiceRequests concatenate into one (protobuf merges
        repeated fields)."""
        parts, self.encoded, self.encoded_count = self.encoded, [], 0
        while self.queue:
            size = min(self.batch, len(self.queue))
            parts.append((encode([self.queue.popleft() for _ in range(size)]), size))
            if len(parts) >= POST_SLICES:
                await self._send(parts[:POST_SLICES])
                del parts[:POST_SLICES]
            else:
                await asyncio.sleep(0)
        for start in range(0, len(parts), POST_SLICES):
            await self._send(parts[start:start + POST_SLICES])

    async def _send(self, parts: list[tuple[bytes, int]]) -> None:
        body = b"".join(part for part, _ in parts)
        await self._post(gzip.compress(body, 1) if self.gzip else body, sum(count for _, count in parts))

    async def _post(self, body: bytes, count: int) -> None:
        try:
            async with self.session.post(self.url, data=body, headers=self.headers) as response:
                await response.read()
                problem = None if response.status < 300 else f"HTTP {response.status}"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            problem = type(exc).__name__
        if problem is not None:
            self.dropped += count
            self._warn(problem)

    def _warn(self, problem: str) -> None:
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY:
            self._warned = now
            logger.warning("span export to %s failed (%s): %d spans dropped so far", self.url, problem,
                           self.dropped)

    async def aclose(self, timeout: float) -> None:
        """Send what is left (within ``timeout`` seconds), then close the session."""
        self.task.cancel()
        try:
            await asyncio.wait_for(self.export_queued(), timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            pass
        await self.session.close()

    def shutdown(self) -> None:  # the SDK's atexit hook: the loop is gone by then
        self.queue.clear()
        self.encoded, self.encoded_count = [], 0

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return not self.queue and not self.encoded
