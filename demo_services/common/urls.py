"""URLs every service serves: health, metrics and the OpenAPI schema."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path
from drf_spectacular.views import SpectacularAPIView

from observability.django import metrics_view


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def common_urls() -> list[URLPattern]:
    return [path("health", health), path("metrics", metrics_view),
            path("api/schema/", SpectacularAPIView.as_view(), name="schema")]
