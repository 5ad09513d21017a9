"""Worker lifecycle: drain on SIGTERM, reload the config when its file changes.

Drain: the first SIGTERM marks the worker not ready (``/-/health/ready`` answers 503),
waits ``GATEWAY_SHUTDOWN_DELAY`` seconds (default 0; set it to the load balancer's
health-check period so it stops sending traffic first), then hands the signal to the
ASGI server, which stops accepting and lets in-flight requests finish for up to
``GATEWAY_DRAIN_SECONDS``.

Reload: every ``GATEWAY_CONFIG_WATCH`` seconds (default 2; 0 disables) each worker
checks the config file; SIGHUP checks at once. A changed file is validated first: a
broken one is logged with every problem and the running config keeps serving; a good
one is built into a new runtime that shares the worker's HTTP client, then swapped in.
Requests already in flight finish on the runtime they started with.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading

from gateway import runtime as runtime_module
from gateway.config import ConfigError

log = logging.getLogger("gateway.lifecycle")


def install_drain_handler() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    delay = float(os.environ.get("GATEWAY_SHUTDOWN_DELAY", "0"))
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return

    def on_term(sig, frame) -> None:
        current = runtime_module.current()
        if current is not None:
            current.draining = True
        log.warning("SIGTERM: draining (not ready), stopping in %.1fs", delay)
        if delay > 0:
            loop.call_soon_threadsafe(loop.call_later, delay, previous, sig, frame)
        else:
            previous(sig, frame)

    signal.signal(signal.SIGTERM, on_term)


class ConfigWatcher:
    def __init__(self, interval: float | None = None) -> None:
        self.interval = float(os.environ.get("GATEWAY_CONFIG_WATCH", "2")) if interval is None else interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._seen = self._fingerprint()

    def start(self) -> None:
        if self.interval <= 0:
            return
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run())
        if threading.current_thread() is threading.main_thread():
            loop.add_signal_handler(signal.SIGHUP, self._wake.set)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            fingerprint = self._fingerprint()
            if fingerprint != self._seen:
                self._seen = fingerprint
                await reload()

    @staticmethod
    def _fingerprint():
        current = runtime_module.current()
        path = current.source if current else os.environ.get("GATEWAY_CONFIG", "")
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


async def reload() -> bool:
    """Build and swap in a new runtime from the config file; False if it was refused."""
    old = runtime_module.current()
    if old is None:
        return False
    try:
        new = await asyncio.to_thread(runtime_module.load_runtime, old.source)
    except ConfigError as exc:
        log.error("config reload refused, still serving the previous config:\n%s", exc.render())
        return False
    await new.start(client=old.client)
    runtime_module.install(new)
    await old.retire()
    log.warning("config reloaded from %s: %d routes", new.source, len(new.routes))
    return True
