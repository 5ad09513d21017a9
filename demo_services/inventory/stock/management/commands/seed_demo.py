"""``manage.py seed_demo``: the demo products (idempotent: existing products are kept)."""

from __future__ import annotations

from decimal import Decimal

from django.core.management.base import BaseCommand

from stock.models import Product

PRODUCTS = [("Keyboard", "49.90", 100), ("Mouse", "19.90", 200), ("Monitor", "189.00", 25),
            ("USB-C cable", "9.50", 500), ("Webcam", "59.00", 40),
            ("Rare collector mug", "15.00", 1)]


class Command(BaseCommand):
    help = "Create the demo products (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        created = sum(Product.objects.get_or_create(
            name=name, defaults={"price": Decimal(price), "stock": stock})[1]
            for name, price, stock in PRODUCTS)
        self.stdout.write(f"seed_demo: {created} product(s) created")
