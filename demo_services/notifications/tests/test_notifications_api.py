from __future__ import annotations

import pytest
from django.core.management import call_command

from inbox import tasks

pytestmark = pytest.mark.django_db


def test_lists_only_the_callers_notifications(client_for, event) -> None:
    tasks.order_created(event("alice"))
    tasks.order_created(event("bob"))
    page = client_for("notifications:read").get("/api/notifications/").json()
    assert page["count"] == 1
    assert set(page["results"][0]) == {"id", "kind", "order_id", "message", "created_at"}


def test_scope_and_identity_required(client_for) -> None:
    assert client_for("orders:read").get("/api/notifications/").status_code == 403
    assert client_for("", user="").get("/api/notifications/").status_code == 401


def test_health_and_schema(client, tmp_path) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    assert client.get("/health").status_code == 200
    assert b"/api/notifications/" in client.get("/api/schema/").content
