#!/usr/bin/env python
"""Django's command-line utility for the notifications demo service."""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(1, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notifications_service.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
