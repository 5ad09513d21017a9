"""``manage.py seed_demo``: nothing to seed (orders are placed by users); kept for the stack."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "No demo data: orders are created through the API."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write("seed_demo: nothing to seed")
