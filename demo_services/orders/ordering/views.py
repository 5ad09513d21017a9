"""Orders of the calling user: create (reserving stock), list, retrieve, cancel."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from demo_services.common.auth import scope
from demo_services.common.problems import Conflict

from . import events, inventory
from .models import Order, OrderItem
from .serializers import OrderCreateSerializer, OrderSerializer

WRITE_ACTIONS = {"create", "cancel"}


class OrderViewSet(mixins.CreateModelMixin, mixins.ListModelMixin,
                   mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = OrderSerializer
    queryset = Order.objects.none()  # the schema's model; get_queryset narrows to the caller

    def get_permissions(self) -> list[BasePermission]:
        needed = "orders:write" if self.action in WRITE_ACTIONS else "orders:read"
        return [scope(needed)()]

    def get_queryset(self) -> QuerySet[Order]:
        return Order.objects.filter(user_id=self.request.user.id).prefetch_related("items")

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = OrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = Order(user_id=request.user.id)
        lines = inventory.reserve(str(order.reference), body.validated_data["items"])
        try:
            with transaction.atomic():
                _save(order, lines)
                events.publish_on_commit("order.created", order)
        except Exception:
            events.release_now(str(order.reference))
            raise
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: OrderSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        with transaction.atomic():
            order = self.get_queryset().select_for_update().get(pk=self.get_object().pk)
            if order.status == Order.Status.CANCELLED:
                raise Conflict("the order is already cancelled", code="already_cancelled")
            order.status = Order.Status.CANCELLED
            order.save(update_fields=["status"])
            events.publish_on_commit("order.cancelled", order)
        return Response(OrderSerializer(order).data)


def _save(order: Order, lines: list[dict[str, Any]]) -> None:
    order.total = sum((Decimal(str(l["unit_price"])) * l["quantity"] for l in lines), Decimal(0))
    order.save()
    OrderItem.objects.bulk_create(
        OrderItem(order=order, product_id=l["product_id"], quantity=l["quantity"],
                  unit_price=Decimal(str(l["unit_price"]))) for l in lines)
