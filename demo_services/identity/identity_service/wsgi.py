"""WSGI entry point."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from observability import logging as obs_logging
from observability import tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identity_service.settings")
obs_logging.setup("identity")
tracing.setup("identity")

application = get_wsgi_application()
