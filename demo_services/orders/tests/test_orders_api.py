from __future__ import annotations

import httpx
import pytest
from django.core.management import call_command

from ordering.models import Order, OrderItem

pytestmark = pytest.mark.django_db
ITEMS = {"items": [{"product_id": 1, "quantity": 2}]}


def create(client, body=ITEMS, **kwargs):
    return client.post("/api/orders/", body, format="json", **kwargs)


def test_create_reserves_stock_then_publishes_on_commit(
        alice, fake_inventory, published, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = create(alice)
    assert response.status_code == 201, response.json()
    order = response.json()
    assert order["status"] == "confirmed" and order["total"] == "21.00"
    assert order["items"] == [{"product_id": 1, "quantity": 2, "unit_price": "10.50"}]
    sent = fake_inventory.requests[0]
    assert sent.url.path == "/internal/reservations/"
    assert sent.headers["X-Scopes"] == "inventory:reserve"
    [(task, queue, event)] = published
    assert (task, queue, event["type"]) == ("notifications.order_created", "notifications",
                                            "order.created")
    assert event["user_id"] == "alice" and event["order_id"] == order["reference"]


def test_nothing_is_published_before_commit(alice, published) -> None:
    assert create(alice).status_code == 201
    assert published == []  # the test transaction never commits


@pytest.mark.parametrize("body", [{}, {"items": []}, {"items": [{"product_id": 1, "quantity": 0}]},
                                  {"items": [{"product_id": 1, "quantity": -1}]},
                                  {"items": [{"product_id": "x", "quantity": 1}]}])
def test_validation_errors_are_problems(alice, fake_inventory, body) -> None:
    response = create(alice, body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "items" in response.json()["errors"]
    assert fake_inventory.requests == []


def test_short_stock_is_409(alice, fake_inventory, published) -> None:
    fake_inventory.handler = lambda r: httpx.Response(409, json={"detail": "not enough stock"})
    response = create(alice)
    assert response.status_code == 409 and response.json()["detail"] == "not enough stock"
    assert not Order.objects.exists() and published == []


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
def test_inventory_down_is_503(alice, fake_inventory, failure) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure
    fake_inventory.handler = fail
    response = create(alice)
    assert response.status_code == 503 and not Order.objects.exists()


def test_inventory_error_is_503(alice, fake_inventory) -> None:
    fake_inventory.handler = lambda r: httpx.Response(500, text="boom")
    assert create(alice).status_code == 503


def test_a_reservation_is_released_when_the_order_cannot_be_saved(
        alice, published, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(OrderItem.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        create(alice)
    [(task, _, event)] = published
    assert task == "inventory.order_cancelled" and event["type"] == "order.cancelled"
    assert not Order.objects.exists()


def test_list_and_retrieve_only_own_orders(alice, client_for) -> None:
    mine = create(alice).json()
    bob = client_for("orders:read orders:write", user="bob")
    create(bob)
    page = alice.get("/api/orders/").json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 1 and page["results"][0]["id"] == mine["id"]
    assert alice.get(f"/api/orders/{mine['id']}/").status_code == 200
    assert bob.get(f"/api/orders/{mine['id']}/").status_code == 404


def test_cancel_publishes_to_inventory_once(
        alice, published, django_capture_on_commit_callbacks) -> None:
    order = create(alice).json()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(f"/api/orders/{order['id']}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert [(t, q, e["type"]) for t, q, e in published] == [
        ("inventory.order_cancelled", "inventory", "order.cancelled")]
    assert alice.post(f"/api/orders/{order['id']}/cancel/").status_code == 409


@pytest.mark.parametrize("method,path,scopes,expected", [
    ("get", "/api/orders/", "", 401), ("get", "/api/orders/", "orders:write", 403),
    ("post", "/api/orders/", "orders:read", 403), ("post", "/api/orders/", "orders:write", 201),
])
def test_scopes(client_for, method, path, scopes, expected) -> None:
    client = client_for(scopes) if scopes else client_for("", user="")
    response = getattr(client, method)(path, ITEMS, format="json")
    assert response.status_code == expected


def test_health_and_schema(client, tmp_path) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    assert client.get("/health").status_code == 200
    assert b"/api/orders/{id}/cancel/" in client.get("/api/schema/").content
