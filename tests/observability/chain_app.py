"""A one-file Django service for the trace-chain test: ``/hop/`` calls ``NEXT_URL`` if set.

Run: ``OTEL_SERVICE_NAME=front NEXT_URL=http://... uvicorn tests.observability.chain_app:application``.
It is set up exactly as a demo service is: the shared tracing, logging and RED metrics.
"""

from __future__ import annotations

import os

import django
from django.conf import settings

settings.configure(
    DEBUG=False, SECRET_KEY="chain-test", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, INSTALLED_APPS=[],
    MIDDLEWARE=["observability.django.RedMetricsMiddleware"],
)
django.setup()

from observability import logging as obs_logging  # noqa: E402
from observability import tracing  # noqa: E402

SERVICE = os.environ.get("OTEL_SERVICE_NAME", "chain")
obs_logging.setup(SERVICE)
tracing.setup(SERVICE)  # before the handler loads MIDDLEWARE: the Django instrumentation adds one

import httpx  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

from observability.django import metrics_view  # noqa: E402


async def hop(request):
    following = os.environ.get("NEXT_URL")
    if following:
        async with httpx.AsyncClient() as client:
            (await client.get(f"{following}/hop/")).raise_for_status()
    return JsonResponse({"service": SERVICE})


urlpatterns = [path("hop/", hop), path("metrics", metrics_view)]
application = get_asgi_application()
