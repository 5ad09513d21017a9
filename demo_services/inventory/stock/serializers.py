from __future__ import annotations

from rest_framework import serializers

from .models import Product, Reservation, ReservationItem


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "name", "price", "stock"]


class LineSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)  # a BigAutoField id
    quantity = serializers.IntegerField(min_value=1)


class ReservationRequestSerializer(serializers.Serializer):
    order_id = serializers.CharField(max_length=64)
    items = LineSerializer(many=True, allow_empty=False)


class ReservationItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReservationItem
        fields = ["product_id", "quantity", "unit_price"]


class ReservationSerializer(serializers.ModelSerializer):
    items = ReservationItemSerializer(many=True, read_only=True)

    class Meta:
        model = Reservation
        fields = ["order_id", "status", "items"]
