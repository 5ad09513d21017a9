"""The synchronous call to inventory that reserves an order's stock.

The httpx transport is the seam: tests set ``transport``; the httpx instrumentation wraps
it in production and propagates ``traceparent``. Inventory's answers are translated here,
in one place: 409 -> Conflict, 400 -> ValidationError, anything else or no answer -> 503.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from django.conf import settings
from rest_framework.exceptions import ValidationError

from demo_services.common.auth import SECRET_HEADER
from demo_services.common.problems import Conflict, ServiceUnavailable

transport: httpx.BaseTransport | None = None
_client: httpx.Client | None = None


def client() -> httpx.Client:
    global _client
    if _client is None:
        _client = httpx.Client(base_url=settings.INVENTORY_URL, transport=transport,
                               timeout=httpx.Timeout(settings.INVENTORY_TIMEOUT, connect=1.0))
    return _client


def reset() -> None:
    global _client
    _client = None


def reserve(order_id: str, items: list[dict[str, int]]) -> list[dict[str, Any]]:
    """The reserved lines (``product_id``, ``quantity``, ``unit_price``)."""
    try:
        response = client().post("/internal/reservations/", headers=_headers(),
                                 json={"order_id": order_id, "items": items})
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"inventory unreachable: {type(exc).__name__}") from exc
    if response.status_code in (200, 201):
        return list(response.json()["items"])
    raise _error(response)


def _error(response: httpx.Response) -> Exception:
    body = _json(response)
    if response.status_code == 409:
        return Conflict(body.get("detail", "not enough stock"), code="short_stock")
    if response.status_code == 400:
        return ValidationError(body.get("errors", {"items": ["rejected by inventory"]}))
    return ServiceUnavailable(f"inventory answered {response.status_code}")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _headers() -> dict[str, str]:
    headers = {"X-Consumer": "orders", "X-Scopes": "inventory:reserve"}
    secret = os.environ.get("GATEWAY_SHARED_SECRET")
    if secret:
        headers[SECRET_HEADER] = secret
    return headers
