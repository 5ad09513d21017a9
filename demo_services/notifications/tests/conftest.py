from __future__ import annotations

import uuid
from typing import Any

import pytest

from demo_services.common.testing import gateway_client


client_for = gateway_client


@pytest.fixture(name="client_for")
def _client_for():
    return client_for


def order_created(user: str = "alice", **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": "order.created", "order_id": str(uuid.uuid4()),
            "order_number": 7, "user_id": user, "total": "21.00", "items": [], **extra}


@pytest.fixture(name="event")
def _event():
    return order_created
