"""Active health checks: one background task per upstream and worker.

Each target is probed with ``GET <target><path>`` every ``interval``; ``unhealthy_threshold``
failures in a row take it out of rotation, ``healthy_threshold`` passes bring it back.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from gateway.proxy.upstreams import UpstreamPool

log = logging.getLogger("gateway.health")


class ActiveHealthChecker:
    def __init__(self, pool: UpstreamPool, client: httpx.AsyncClient) -> None:
        self.pool = pool
        self.client = client
        self.config = pool.config.health.active
        self._streaks = {id(s): 0 for s in pool.balancer.states}  # >0 passes, <0 failures
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.gather(*(self.probe(s) for s in self.pool.balancer.states))
            await asyncio.sleep(self.config.interval)

    async def probe(self, state) -> None:
        target = state.target
        url = target.url(self.config.path, b"")
        try:
            response = await self.client.get(url, timeout=self.config.timeout, headers={"Host": target.host_header})
            ok = response.status_code < 400
        except httpx.HTTPError:
            ok = False
        self._update(state, ok)

    def _update(self, state, ok: bool) -> None:
        streak = self._streaks[id(state)]
        streak = max(streak, 0) + 1 if ok else min(streak, 0) - 1
        self._streaks[id(state)] = streak
        if ok and not state.active_healthy and streak >= self.config.healthy_threshold:
            state.active_healthy = True
            log.warning("upstream %s target %s is healthy again", self.pool.name, target_name(state))
        elif not ok and state.active_healthy and -streak >= self.config.unhealthy_threshold:
            state.active_healthy = False
            log.warning("upstream %s target %s is unhealthy: out of rotation", self.pool.name, target_name(state))


def target_name(state) -> str:
    return f"{state.target.host}:{state.target.port}"
