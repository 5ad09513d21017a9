from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from accounts import keys


class Command(BaseCommand):
    help = (
        "Make a new current signing key. The previous key stays in the JWKS for --grace "
        "seconds (default: the token TTL) so its tokens keep verifying; keys past that "
        "window are deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace",
            type=float,
            default=None,
            help=f"Seconds the previous key stays published (default: TOKEN_TTL, now "
            f"{settings.TOKEN_TTL}); 0 withdraws it at once, e.g. after a compromise.",
        )
        parser.add_argument(
            "--purge", action="store_true", help="Only delete keys past their window; no rotation."
        )

    def handle(self, *args: Any, grace: float | None, purge: bool, **options: Any) -> None:
        if purge:
            self.stdout.write(f"purged {keys.purge()} key(s)")
            return
        key = keys.rotate(grace=grace)
        self.stdout.write(f"current kid {key.kid}")
