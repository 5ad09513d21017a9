"""Fixtures for the rate-limit tests: a settable clock, real Redis under a private key
prefix, request contexts built with Django's RequestFactory, and a TCP proxy in front of
Redis that counts commands and can blackhole or reset connections."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid

import pytest
import redis.asyncio as aioredis
from django.test import RequestFactory

from gateway.context import Identity, RequestContext
from gateway.policies.base import Services
from gateway.policies.rate_limit import RateLimitConfig, RateLimitPolicy
from gateway.policies.ratelimit.redis import RedisBackend

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


class FakeClock:
    """Seconds that only move when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RespCommands:
    """Counts the commands in a client-to-Redis byte stream (RESP arrays of bulk strings)."""

    def __init__(self) -> None:
        self.buffer = b""
        self.names: list[str] = []

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while (name := self._take()) is not None:
            self.names.append(name)

    def _take(self) -> str | None:
        buf, pos, args = self.buffer, 0, []
        end = buf.find(b"\r\n")
        if end < 0:
            return None
        count, pos = int(buf[1:end]), end + 2
        for _ in range(count):
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return None
            size, start = int(buf[pos + 1 : end]), end + 2
            if len(buf) < start + size + 2:
                return None
            args.append(buf[start : start + size])
            pos = start + size + 2
        self.buffer = buf[pos:]
        return args[0].decode().upper()


class FaultyProxy:
    """Loopback TCP proxy to Redis. ``mode``: pass, blackhole (swallow, never answer) or
    reset (close every connection). ``commands`` records what clients tried to send."""

    def __init__(self) -> None:
        self.mode = "pass"
        self.connections = 0
        self.commands = RespCommands()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> FaultyProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        return self

    def drop_connections(self) -> None:
        """Close every connection as a restarting Redis would; new ones pass again."""
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def close(self) -> None:
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.connections += 1
        if self.mode == "reset":
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(REDIS_HOST, REDIS_PORT)
        self._writers.add(up_writer)
        pumps = [self._spawn(self._pump(reader, up_writer, True)),
                 self._spawn(self._pump(up_reader, writer, False))]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for w in (writer, up_writer):
            w.close()

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _pump(self, reader, writer, from_client: bool) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if from_client:
                    self.commands.feed(data)
                if self.mode == "reset":
                    return
                if self.mode == "pass":
                    writer.write(data)
                    await writer.drain()


def _redis_reachable() -> None:
    try:
        socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=0.5).close()
    except OSError:
        message = f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT}"
        pytest.fail(message) if os.environ.get("CI") == "true" else pytest.skip(message)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def monotonic() -> FakeClock:
    """A separate clock for the circuit breaker."""
    return FakeClock(start=1000.0)


@pytest.fixture
async def redis_prefix():
    """A key prefix of this test's own; its keys are deleted afterwards."""
    _redis_reachable()
    prefix = f"test-rl-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def make_redis_backend(redis_prefix):
    backends: list[RedisBackend] = []

    def make(url: str = REDIS_URL, **options) -> RedisBackend:
        options.setdefault("prefix", redis_prefix)
        backends.append(RedisBackend(url, **options))
        return backends[-1]

    yield make
    for backend in backends:
        await backend.close()


@pytest.fixture
async def redis_admin(redis_prefix):
    """A plain client to look at (and only at) this test's keys."""
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def proxy():
    _redis_reachable()
    faulty = await FaultyProxy().start()
    yield faulty
    await faulty.close()


@pytest.fixture
def make_policy():
    def make(backend, route: str = "orders", **options) -> RateLimitPolicy:
        options.setdefault("limits", ["5/minute"])
        config = RateLimitConfig(**options)
        return RateLimitPolicy(config, route_name=route, services=Services(), backend=backend)

    return make


def make_ctx(
    *, ip: str = "203.0.113.7", consumer: str | None = None, headers: dict | None = None
) -> RequestContext:
    request = RequestFactory().get("/api/orders/", headers=headers or {})
    identity = Identity(consumer=consumer) if consumer else None
    return RequestContext(
        request=request, route=None, path="/api/orders/", client_ip=ip,
        request_id="req-test", identity=identity,
    )


@pytest.fixture
def ctx_factory():
    return make_ctx


async def run_policy(policy: RateLimitPolicy, ctx: RequestContext) -> tuple[int, dict[str, str]]:
    """The status the client would get (200 when the request goes on) and its headers."""
    from gateway.errors import GatewayError

    try:
        await policy.on_request(ctx)
    except GatewayError as exc:
        response = exc.to_response(ctx.request_id)
        return exc.status_code, {name: value for name, value in response.items()}
    return 200, dict(ctx.response_headers)


@pytest.fixture
def decide(ctx_factory):
    async def call(policy: RateLimitPolicy, **ctx_options) -> tuple[int, dict[str, str]]:
        return await run_policy(policy, ctx_factory(**ctx_options))

    return call


@pytest.fixture
def run():
    return run_policy
