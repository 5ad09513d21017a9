"""The rate limiter's Redis connections: redis-py ``Connection`` objects in a plain LIFO.

redis-py's client and pools spend ~300 Python calls on each command (retry wrapper,
pool lock and condition, a health read before each use, event dispatch, per-step
timeouts); the limiter sends one EVALSHA per request and bounds it with its own
timeout, so it talks to the connections directly. What redis-py does well stays
redis-py's: URL options (TLS, auth, database), the handshake, RESP and its parser.

A connection that failed mid-command is dropped, and so are the idle ones: after a
server restart every one of them is dead, and finding that out one request at a time
would keep the breaker tripping (the backend retries such a decision once, on a new
connection).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError


class Connections:
    def __init__(self, factory: ConnectionPool, size: int) -> None:
        self.factory, self.size = factory, size
        self.idle: list[AbstractConnection] = []
        self.open = 0
        self.waiters: deque[asyncio.Future] = deque()
        self.closing: set[asyncio.Future] = set()

    async def acquire(self) -> tuple[AbstractConnection, bool]:
        """A connection, and whether it was used before (and may have died since)."""
        if self.idle:
            return self.idle.pop(), True
        if self.open >= self.size:
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            handed = await waiter  # the caller's timeout bounds the wait
            if handed is not None:
                return handed, True
        self.open += 1
        connection = self.factory.make_connection()
        try:
            await connection.connect()
        except BaseException:
            self.discard(connection)
            raise
        return connection, False

    async def round_trip(self, connection: AbstractConnection, packed: list[bytes]) -> Any:
        """Send one packed command on ``connection`` and return its reply (``exchange``)."""
        replies: list[Any] = []
        await self.exchange(connection, [packed], replies.append)
        if isinstance(replies[0], ResponseError):
            raise replies[0]
        return replies[0]

    async def exchange(self, connection: AbstractConnection, commands: list[list[bytes]],
                       deliver: Callable[[Any], None]) -> None:
        """Send packed ``commands`` on ``connection`` in one write and hand each reply to
        ``deliver`` as soon as it is read, an error reply as its ``ResponseError`` (it
        leaves the connection in step). The connection goes back to the pool, or is
        dropped when the exchange broke off: the exception then carries ``answered``,
        the number of replies read before it."""
        answered = 0
        try:
            await connection.send_packed_command([part for packed in commands for part in packed],
                                                 check_health=False)
            for _ in commands:
                try:
                    reply = await connection.read_response()
                except ResponseError as error:
                    reply = error
                answered += 1
                deliver(reply)
        except BaseException as exc:
            self.discard(connection)
            exc.answered = answered  # type: ignore[attr-defined]
            raise
        self.release(connection)

    def release(self, connection: AbstractConnection) -> None:
        if not self._hand_over(connection):
            self.idle.append(connection)

    def discard(self, connection: AbstractConnection) -> None:
        """Drop ``connection`` (and the idle ones); a waiter may open a new one."""
        self.open -= 1 + len(self.idle)
        for dead in (connection, *self.idle):  # redis-py already closed the failed one, mostly
            closing = asyncio.ensure_future(dead.disconnect(nowait=True))
            self.closing.add(closing)
            closing.add_done_callback(self._closed)
        self.idle.clear()
        self._hand_over(None)

    def _closed(self, closing: asyncio.Future) -> None:
        self.closing.discard(closing)
        if not closing.cancelled():
            closing.exception()  # a failed close of a dead connection is not news

    def _hand_over(self, connection: AbstractConnection | None) -> bool:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return True
        return False

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        self.open -= len(idle)
        for connection in idle:
            await connection.disconnect()
