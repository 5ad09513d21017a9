"""Shared observability set-up for the gateway and the demo services.

``tracing.setup(name)``, ``logging.setup(name)`` and, for Django services,
``django.RedMetricsMiddleware`` plus ``django.metrics_view``.
"""

from __future__ import annotations

SERVICE_NAME: str | None = None


def remember_service(name: str) -> None:
    """The first ``setup(name)`` names the process (labels of the RED metrics)."""
    global SERVICE_NAME
    SERVICE_NAME = SERVICE_NAME or name
