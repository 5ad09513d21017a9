"""ASGI entry point (``granian --interface asgi identity_service.asgi:application``)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from observability import logging as obs_logging
from observability import tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identity_service.settings")
obs_logging.setup("identity")
tracing.setup("identity")

application = get_asgi_application()
