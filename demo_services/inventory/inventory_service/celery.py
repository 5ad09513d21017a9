"""The Celery app of the inventory service (``celery -A inventory_service worker -Q <queue>``)."""

from __future__ import annotations

from demo_services.common.celery_app import create_app

app = create_app("inventory")
