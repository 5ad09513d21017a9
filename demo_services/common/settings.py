"""Settings helpers: database, Celery broker and the DRF defaults every service shares."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url


def database(base_dir: Path) -> dict[str, Any]:
    """``DATABASE_URL`` (PostgreSQL in compose/CI), SQLite beside the service otherwise."""
    return dj_database_url.config(default=f"sqlite:///{base_dir / 'db.sqlite3'}", conn_max_age=0)


def celery(base_dir: Path) -> dict[str, Any]:
    """Broker settings: ``CELERY_BROKER_URL`` (default kombu's filesystem transport)."""
    url = os.environ.get("CELERY_BROKER_URL", "filesystem://")
    config: dict[str, Any] = {"CELERY_BROKER_URL": url, "CELERY_TASK_IGNORE_RESULT": True,
                              "CELERY_TASK_ACKS_LATE": True, "CELERY_WORKER_PREFETCH_MULTIPLIER": 1,
                              "CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP": True}
    if url.startswith("filesystem"):
        folder = Path(os.environ.get("CELERY_FS_DIR", base_dir / ".broker"))
        for sub in ("in", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        config["CELERY_BROKER_TRANSPORT_OPTIONS"] = {
            "data_folder_in": str(folder / "in"), "data_folder_out": str(folder / "in"),
            "processed_folder": str(folder / "processed"), "store_processed": False,
            "control_folder": str(folder / "control"), "polling_interval": 0.2}
    return config


def queues() -> dict[str, str]:
    """Queue names, overridable so parallel test runs on one broker never collide."""
    return {"notifications": os.environ.get("NOTIFICATIONS_QUEUE", "notifications"),
            "inventory": os.environ.get("INVENTORY_QUEUE", "inventory")}


REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["demo_services.common.auth.GatewayHeaderAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "demo_services.common.problems.problem_handler",
    "UNAUTHENTICATED_USER": None,
}

MIDDLEWARE = [
    "observability.django.RedMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]


def base(name: str) -> dict[str, Any]:
    """The settings every service shares; a service's settings module adds its own."""
    return {
        "SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", f"{name}-demo-insecure-key"),
        "DEBUG": os.environ.get("DJANGO_DEBUG", "") == "1",
        "ALLOWED_HOSTS": os.environ.get("ALLOWED_HOSTS", "*").split(","),
        "MIDDLEWARE": MIDDLEWARE,
        "ROOT_URLCONF": f"{name}_service.urls",
        "ASGI_APPLICATION": f"{name}_service.asgi.application",
        "WSGI_APPLICATION": f"{name}_service.wsgi.application",
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "USE_TZ": True, "TIME_ZONE": "UTC",
        "REST_FRAMEWORK": REST_FRAMEWORK,
        "SPECTACULAR_SETTINGS": {"TITLE": f"{name.capitalize()} demo service", "VERSION": "1.0.0"},
        "INVENTORY_URL": os.environ.get("INVENTORY_URL", "http://127.0.0.1:8003"),
        "QUEUES": queues(),
    }
