from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from demo_services.common.urls import common_urls
from ordering.views import OrderViewSet

router = DefaultRouter(trailing_slash=True)
router.register("api/orders", OrderViewSet, basename="order")

urlpatterns = [*common_urls(), path("", include(router.urls))]
