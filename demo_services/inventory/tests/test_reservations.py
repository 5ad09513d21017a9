from __future__ import annotations

import pytest

from stock.models import Product, Reservation
from stock.tasks import order_cancelled

pytestmark = pytest.mark.django_db
URL = "/internal/reservations/"


def reserve(client, order_id: str, *items: tuple[int, int]):
    return client.post(URL, {"order_id": order_id, "items": [
        {"product_id": p, "quantity": q} for p, q in items]}, format="json")


def test_reservation_decrements_stock_and_reports_prices(orders_service, products) -> None:
    response = reserve(orders_service, "o-1", (products[0].id, 2), (products[1].id, 1))
    assert response.status_code == 201
    assert response.json()["items"][0] == {"product_id": products[0].id, "quantity": 2,
                                           "unit_price": "49.90"}
    assert [p.stock for p in Product.objects.order_by("id")] == [3, 0]


def test_short_stock_is_409_and_changes_nothing(orders_service, products) -> None:
    response = reserve(orders_service, "o-2", (products[0].id, 1), (products[1].id, 2))
    assert response.status_code == 409
    assert response.json()["code"] == "short_stock"
    assert [p.stock for p in Product.objects.order_by("id")] == [5, 1]
    assert not Reservation.objects.exists()


def test_same_order_id_reserves_once(orders_service, products) -> None:
    assert reserve(orders_service, "o-3", (products[0].id, 2)).status_code == 201
    assert reserve(orders_service, "o-3", (products[0].id, 2)).status_code == 200
    assert Product.objects.get(pk=products[0].id).stock == 3


def test_validation_errors(orders_service, products) -> None:
    assert reserve(orders_service, "o-4").status_code == 400
    assert reserve(orders_service, "o-4", (products[0].id, 0)).status_code == 400
    unknown = reserve(orders_service, "o-4", (999999, 1))
    assert unknown.status_code == 400 and "items" in unknown.json()["errors"]


def test_users_cannot_reserve(products, client_for) -> None:
    user = client_for("inventory:read orders:write")
    assert reserve(user, "o-5", (products[0].id, 1)).status_code == 403


def test_cancellation_releases_once(orders_service, products, caplog) -> None:
    caplog.set_level("INFO")
    reserve(orders_service, "o-6", (products[0].id, 4))
    event = {"id": "e-1", "type": "order.cancelled", "order_id": "o-6"}
    assert order_cancelled(event) is True
    assert order_cancelled(event) is False
    assert Product.objects.get(pk=products[0].id).stock == 5


def test_poison_cancellation_is_dropped(products) -> None:
    assert order_cancelled({"id": "e-2"}) is False
    assert order_cancelled("garbage") is False
