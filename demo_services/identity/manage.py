#!/usr/bin/env python
"""Django's command-line utility for the identity demo service."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository: the shared `observability` package


def main() -> None:
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identity_service.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
