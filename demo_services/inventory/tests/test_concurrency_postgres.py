"""Concurrent reservations against a real inventory process on a real PostgreSQL database.

Skipped when PostgreSQL is unreachable, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from demo_services.common.testing import ServiceProcess, postgres_available, postgres_database

HEADERS = {"X-Consumer": "orders", "X-Scopes": "inventory:reserve"}


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[ServiceProcess, str]]:
    if not postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is unreachable under CI=true")
        pytest.skip("PostgreSQL is unreachable")
    with postgres_database("inventory_conc") as url:
        process = ServiceProcess("inventory", {"DATABASE_URL": url}, workers=2)
        try:
            yield process.start(seed=False), url
        finally:
            process.stop()


def last_unit(url: str, name: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("INSERT INTO stock_product (name, price, stock) VALUES (%s, 10, 1) "
                           "RETURNING id", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def stock(url: str, product_id: int) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT stock FROM stock_product WHERE id = %s",
                           (product_id,)).fetchone()
    assert row is not None
    return int(row[0])


async def race(base: str, bodies: list[dict]) -> list[int]:
    async with httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=20) as client:
        responses = await asyncio.gather(*(client.post("/internal/reservations/", json=b)
                                           for b in bodies))
    return sorted(r.status_code for r in responses)


def body(order_id: str, product_id: int) -> dict:
    return {"order_id": order_id, "items": [{"product_id": product_id, "quantity": 1}]}


@pytest.mark.parametrize("contenders", [2, 8])
def test_exactly_one_order_gets_the_last_unit(service, contenders: int) -> None:
    process, url = service
    product = last_unit(url, f"last-{contenders}")
    statuses = asyncio.run(race(process.url, [body(f"race-{contenders}-{i}", product)
                                              for i in range(contenders)]))
    assert statuses == [201] + [409] * (contenders - 1), process.logs()
    assert stock(url, product) == 0


def test_the_same_order_racing_itself_reserves_once(service) -> None:
    process, url = service
    product = last_unit(url, "twice")
    statuses = asyncio.run(race(process.url, [body("same-order", product)] * 4))
    assert 201 in statuses and 409 not in statuses and set(statuses) <= {200, 201}, statuses
    assert stock(url, product) == 0
