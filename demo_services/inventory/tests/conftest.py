from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from demo_services.common.testing import gateway_client
from stock.models import Product


client_for = gateway_client


@pytest.fixture(name="client_for")
def _client_for():
    return client_for


@pytest.fixture
def reader() -> APIClient:
    return client_for("inventory:read")


@pytest.fixture
def orders_service() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_CONSUMER="orders", HTTP_X_SCOPES="inventory:reserve")
    return client


@pytest.fixture
def products(db) -> list[Product]:
    return [Product.objects.create(name="Keyboard", price=Decimal("49.90"), stock=5),
            Product.objects.create(name="Mug", price=Decimal("15.00"), stock=1)]
