"""Django settings for the gateway: deliberately minimal.

No apps, no database, no middleware on the request path: every middleware costs time on
every proxied request, and a sync one costs a thread hop. The gateway's own concerns
(routing, policies, observability) run inside the proxy view, explicitly ordered.
"""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "gateway-has-no-sessions-or-csrf")
DEBUG = False
ALLOWED_HOSTS = ["*"]  # the gateway validates Host itself against the route table
ROOT_URLCONF = "gateway.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict = {}
USE_TZ = True
TIME_ZONE = "UTC"  # Django's default (America/Chicago) would set TZ for the process and its children
USE_I18N = False
DEFAULT_CHARSET = "utf-8"
# The proxy streams the body itself; Django's own cap only applies to request.body.
DATA_UPLOAD_MAX_MEMORY_SIZE = None
DATA_UPLOAD_MAX_NUMBER_FIELDS = None
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
APPEND_SLASH = False
LOGGING_CONFIG = None  # observability.logging configures logging once per process
