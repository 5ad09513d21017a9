"""Settings of the notifications demo service, read from the environment (see common.settings)."""

from __future__ import annotations

from pathlib import Path

from demo_services.common import settings as common

BASE_DIR = Path(__file__).resolve().parent.parent

globals().update(common.base("notifications"))
globals().update(common.celery(BASE_DIR))
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework",
                  "drf_spectacular", "inbox"]
DATABASES = {"default": common.database(BASE_DIR)}
APPEND_SLASH = False
