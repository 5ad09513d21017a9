"""Events orders publishes, as Celery tasks sent to the consumer's queue.

``send`` is the seam tests replace. Publishing happens on transaction commit, so a
consumer never hears of an order that was rolled back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from .models import Order

TASKS = {"order.created": ("notifications.order_created", "notifications"),
         "order.cancelled": ("inventory.order_cancelled", "inventory")}


def send(task: str, queue: str, event: dict[str, Any]) -> None:
    from orders_service.celery import app

    app.send_task(task, args=[event], queue=queue)


def event(kind: str, order: Order) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": kind, "occurred_at": datetime.now(UTC).isoformat(),
            "order_id": str(order.reference), "order_number": order.pk, "user_id": order.user_id,
            "total": str(order.total),
            "items": [{"product_id": i.product_id, "quantity": i.quantity}
                      for i in order.items.all()]}


def publish_on_commit(kind: str, order: Order) -> None:
    task, queue_key = TASKS[kind]
    payload = event(kind, order)
    transaction.on_commit(lambda: send(task, settings.QUEUES[queue_key], payload))


def release_now(reference: str) -> None:
    """Compensation: the order was not saved, so give its reservation back at once."""
    task, queue_key = TASKS["order.cancelled"]
    send(task, settings.QUEUES[queue_key], {
        "id": str(uuid.uuid4()), "type": "order.cancelled", "order_id": reference,
        "occurred_at": datetime.now(UTC).isoformat(), "reason": "order not saved"})
