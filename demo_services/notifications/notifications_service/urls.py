from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from demo_services.common.urls import common_urls
from inbox.views import NotificationViewSet

router = DefaultRouter(trailing_slash=True)
router.register("api/notifications", NotificationViewSet, basename="notification")

urlpatterns = [*common_urls(), path("", include(router.urls))]
