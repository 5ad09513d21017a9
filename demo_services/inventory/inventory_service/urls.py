from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from demo_services.common.urls import common_urls
from stock.views import ProductViewSet, ReservationView

router = DefaultRouter(trailing_slash=True)
router.register("api/inventory/products", ProductViewSet, basename="product")

urlpatterns = [
    *common_urls(),
    path("internal/reservations/", ReservationView.as_view(), name="reservations"),
    path("", include(router.urls)),
]
