"""Reserving and releasing stock, atomic under concurrency and idempotent by order id.

A reservation decrements each product with one conditional ``UPDATE ... SET stock =
stock - q WHERE id = p AND stock >= q``: the database serialises concurrent updates of a
row and re-checks the condition, so two orders for the last unit cannot both succeed.
All items change in one transaction; products are updated in id order (no deadlocks).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F

from .models import Product, Reservation, ReservationItem


class ShortStock(Exception):
    def __init__(self, product_id: int) -> None:
        super().__init__(f"not enough stock for product {product_id}")
        self.product_id = product_id


class UnknownProduct(Exception):
    def __init__(self, product_id: int) -> None:
        super().__init__(f"unknown product {product_id}")
        self.product_id = product_id


@dataclass(frozen=True)
class Line:
    product_id: int
    quantity: int


def reserve(order_id: str, lines: list[Line]) -> tuple[Reservation, bool]:
    """The reservation for ``order_id`` and whether this call created it."""
    existing = Reservation.objects.filter(order_id=order_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return _reserve(order_id, _merge(lines)), True
    except IntegrityError:  # a concurrent call with the same order id won
        return Reservation.objects.get(order_id=order_id), False


def _reserve(order_id: str, lines: dict[int, int]) -> Reservation:
    reservation = Reservation.objects.create(order_id=order_id)
    prices = dict(Product.objects.filter(pk__in=lines).values_list("pk", "price"))
    for product_id, quantity in sorted(lines.items()):
        if product_id not in prices:
            raise UnknownProduct(product_id)
        updated = Product.objects.filter(pk=product_id, stock__gte=quantity).update(
            stock=F("stock") - quantity)
        if not updated:
            raise ShortStock(product_id)
        ReservationItem.objects.create(reservation=reservation, product_id=product_id,
                                       quantity=quantity, unit_price=prices[product_id])
    return reservation


def _merge(lines: list[Line]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for line in lines:
        merged[line.product_id] = merged.get(line.product_id, 0) + line.quantity
    return merged


def release(order_id: str) -> bool:
    """Give the reserved stock back; ``False`` when there was nothing (left) to release."""
    with transaction.atomic():
        reservation = (Reservation.objects.select_for_update()
                       .filter(order_id=order_id, status=Reservation.Status.RESERVED).first())
        if reservation is None:
            return False
        for item in reservation.items.order_by("product_id"):
            Product.objects.filter(pk=item.product_id).update(stock=F("stock") + item.quantity)
        reservation.status = Reservation.Status.RELEASED
        reservation.save(update_fields=["status"])
    return True
