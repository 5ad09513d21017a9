"""Settings of the orders demo service, all read from the environment (see common.settings).

``INVENTORY_URL`` is where stock is reserved; ``INVENTORY_TIMEOUT`` bounds that call (s).
"""

from __future__ import annotations

import os
from pathlib import Path

from demo_services.common import settings as common

BASE_DIR = Path(__file__).resolve().parent.parent

globals().update(common.base("orders"))
globals().update(common.celery(BASE_DIR))
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
INVENTORY_TIMEOUT = float(os.environ.get("INVENTORY_TIMEOUT", "3"))

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework",
                  "drf_spectacular", "ordering"]
DATABASES = {"default": common.database(BASE_DIR)}
APPEND_SLASH = False
