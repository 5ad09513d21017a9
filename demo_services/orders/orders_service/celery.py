"""The Celery app of the orders service (``celery -A orders_service worker -Q <queue>``)."""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orders_service.settings")

app = Celery("orders_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _logging(**_: object) -> None:
    """JSON logs from the worker's main process too (tracing waits for the pool's fork)."""
    from observability import logging as obs_logging

    obs_logging.setup("orders")


@signals.worker_process_init.connect
def _observe(**_: object) -> None:
    from demo_services.common.boot import observe

    observe("orders")
