"""Products (``inventory:read``) and the internal reservation endpoint (``inventory:reserve``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from demo_services.common.auth import scope
from demo_services.common.problems import Conflict

from .models import Product
from .reservations import Line, ShortStock, UnknownProduct, reserve
from .serializers import ProductSerializer, ReservationRequestSerializer, ReservationSerializer


class ProductViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    permission_classes = [scope("inventory:read")]


class ReservationView(APIView):
    """Called by the orders service only (not routed by the gateway)."""

    permission_classes = [scope("inventory:reserve")]

    @extend_schema(request=ReservationRequestSerializer, responses={201: ReservationSerializer})
    def post(self, request: Request) -> Response:
        body = ReservationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        lines = [Line(**item) for item in body.validated_data["items"]]
        try:
            reservation, created = reserve(body.validated_data["order_id"], lines)
        except ShortStock as exc:
            raise Conflict(str(exc), code="short_stock") from exc
        except UnknownProduct as exc:
            raise ValidationError({"items": [str(exc)]}) from exc
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(ReservationSerializer(reservation).data, status=code)
