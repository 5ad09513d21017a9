"""ASGI entry point (``granian --interface asgi inventory_service.asgi:application``)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from demo_services.common.boot import observe

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_service.settings")
observe("inventory")

application = get_asgi_application()
