"""The Celery app every demo service builds the same way (``celery -A <name>_service worker``)."""

from __future__ import annotations

import os

from celery import Celery, signals


def create_app(service: str) -> Celery:
    """Settings from the service's Django settings (``CELERY_*``), tasks from its apps, JSON
    logs from the worker's main process, tracing in each pool process after the fork."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{service}_service.settings")
    app = Celery(f"{service}_service")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.autodiscover_tasks()

    def setup_logging(**_: object) -> None:
        from observability import logging as obs_logging

        obs_logging.setup(service)

    def observe_process(**_: object) -> None:
        from demo_services.common.boot import observe

        observe(service)

    signals.setup_logging.connect(setup_logging, weak=False)
    signals.worker_process_init.connect(observe_process, weak=False)
    return app
