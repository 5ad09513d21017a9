"""``manage.py seed_demo``: nothing to seed (notifications come from events); kept for the stack."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "No demo data: notifications are created by order events."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write("seed_demo: nothing to seed")
