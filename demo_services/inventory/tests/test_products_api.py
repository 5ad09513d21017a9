from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from stock.models import Product

pytestmark = pytest.mark.django_db


def test_list_is_paginated_with_the_contract_fields(reader, products) -> None:
    body = reader.get("/api/inventory/products/").json()
    assert body["count"] == 2 and body["next"] is None
    assert body["results"][0] == {"id": products[0].id, "name": "Keyboard", "price": "49.90",
                                  "stock": 5}


def test_retrieve_and_unknown_product(reader, products) -> None:
    assert reader.get(f"/api/inventory/products/{products[1].id}/").json()["name"] == "Mug"
    missing = reader.get("/api/inventory/products/999999/")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"


def test_identity_and_scope_are_required(products, client_for) -> None:
    assert APIClient().get("/api/inventory/products/").status_code == 401
    assert client_for("orders:read").get("/api/inventory/products/").status_code == 403


def test_shared_secret_is_checked_when_set(reader, products, monkeypatch) -> None:
    monkeypatch.setenv("GATEWAY_SHARED_SECRET", "s3cret")
    assert reader.get("/api/inventory/products/").status_code == 401
    reader.credentials(HTTP_X_USER_ID="alice", HTTP_X_SCOPES="inventory:read",
                       HTTP_X_GATEWAY_SECRET="s3cret")
    assert reader.get("/api/inventory/products/").status_code == 200


def test_seed_demo_is_idempotent() -> None:
    call_command("seed_demo")
    count = Product.objects.count()
    call_command("seed_demo")
    assert Product.objects.count() == count > 0


def test_health_and_schema(client, tmp_path) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    assert client.get("/health").json() == {"status": "ok"}
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/inventory/products/" in schema.content
