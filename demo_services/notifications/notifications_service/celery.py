"""The Celery app of the notifications service (``celery -A notifications_service worker -Q <queue>``)."""

from __future__ import annotations

from demo_services.common.celery_app import create_app

app = create_app("notifications")
