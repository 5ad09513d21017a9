"""Consumer of ``order.cancelled``: releases the order's reservation (idempotent)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import OperationalError

from .reservations import release

log = logging.getLogger(__name__)


@shared_task(name="inventory.order_cancelled", autoretry_for=(OperationalError,),
             retry_backoff=True, retry_backoff_max=60, max_retries=5)
def order_cancelled(event: dict[str, Any]) -> bool:
    order_id = event.get("order_id") if isinstance(event, dict) else None
    if not isinstance(order_id, str) or not order_id:
        log.error("poison order.cancelled event dropped", extra={"event_id": _id(event)})
        return False
    released = release(order_id)
    log.info("order.cancelled handled", extra={"order_id": order_id, "released": released})
    return released


def _id(event: object) -> str:
    return str(event.get("id", "")) if isinstance(event, dict) else ""
