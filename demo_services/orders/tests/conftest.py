from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from rest_framework.test import APIClient

from demo_services.common.testing import gateway_client
from ordering import events, inventory

Handler = Callable[[httpx.Request], httpx.Response]


client_for = gateway_client


@pytest.fixture(name="client_for")
def _client_for() -> Callable[..., APIClient]:
    return client_for


@pytest.fixture
def alice() -> APIClient:
    return client_for("orders:read orders:write")


def stock_ok(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    items = [{**i, "unit_price": "10.50"} for i in body["items"]]
    return httpx.Response(201, json={"order_id": body["order_id"], "status": "reserved",
                                     "items": items})


class FakeInventory:
    def __init__(self) -> None:
        self.handler: Handler = stock_ok
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


@pytest.fixture(autouse=True)
def fake_inventory(monkeypatch) -> Iterator[FakeInventory]:
    fake = FakeInventory()
    monkeypatch.setattr(inventory, "transport", httpx.MockTransport(fake))
    inventory.reset()
    yield fake
    inventory.reset()


@pytest.fixture(autouse=True)
def published(monkeypatch) -> list[tuple[str, str, dict[str, Any]]]:
    sent: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(events, "send", lambda task, queue, event: sent.append(
        (task, queue, event)))
    return sent
