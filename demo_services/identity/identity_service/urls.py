from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from accounts.views import JwksView, TokenView, health
from observability.django import metrics_view

urlpatterns = [
    path("token", TokenView.as_view(), name="token"),
    path(".well-known/jwks.json", JwksView.as_view(), name="jwks"),
    path("health", health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
