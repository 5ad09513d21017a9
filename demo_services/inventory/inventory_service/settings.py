"""Settings of the inventory demo service, all read from the environment (see common.settings)."""

from __future__ import annotations

from pathlib import Path

from demo_services.common import settings as common

BASE_DIR = Path(__file__).resolve().parent.parent

globals().update(common.base("inventory"))
globals().update(common.celery(BASE_DIR))
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework",
                  "drf_spectacular", "stock"]
DATABASES = {"default": common.database(BASE_DIR)}
APPEND_SLASH = False
