"""The Celery app of the notifications service (``celery -A notifications_service worker``)."""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notifications_service.settings")

app = Celery("notifications_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _logging(**_: object) -> None:
    """JSON logs from the worker's main process too (tracing waits for the pool's fork)."""
    from observability import logging as obs_logging

    obs_logging.setup("notifications")


@signals.worker_process_init.connect
def _observe(**_: object) -> None:
    from demo_services.common.boot import observe

    observe("notifications")
