"""Consumer of ``order.created``: one notification per event id, whatever the redeliveries.

Transient database errors are retried with exponential backoff; a malformed event is
recorded in ``FailedEvent`` at once (retrying cannot fix it), and so is an event whose
retries ran out (``on_failure``).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from .models import FailedEvent, Notification

log = logging.getLogger(__name__)


class InvalidEvent(ValueError):
    pass


class RecordFailures(Task):
    def on_failure(self, exc: Exception, task_id: str, args: tuple, kwargs: dict,
                   einfo: object) -> None:
        record_failure(self.name, args[0] if args else None, f"{type(exc).__name__}: {exc}")


def record_failure(task: str, event: object, error: str) -> None:
    event_id = str(event.get("id", ""))[:64] if isinstance(event, dict) else ""
    payload = event if isinstance(event, (dict, list, str, int, float)) else repr(event)
    FailedEvent.objects.create(task=task, event_id=event_id, payload=payload, error=error)
    log.error("event recorded as failed", extra={"task": task, "event_id": event_id})


def parse(event: object) -> dict[str, str]:
    if not isinstance(event, dict):
        raise InvalidEvent("event is not an object")
    missing = [k for k in ("id", "type", "order_id", "user_id") if not event.get(k)]
    if missing:
        raise InvalidEvent(f"missing {', '.join(missing)}")
    if event["type"] != "order.created":
        raise InvalidEvent(f"unexpected type {event['type']!r}")
    return {k: str(v) for k, v in event.items() if k in ("id", "type", "order_id", "user_id",
                                                          "order_number", "total")}


def message(event: dict[str, str]) -> str:
    number = event.get("order_number", event["order_id"])
    return f"Order #{number} confirmed, total {event.get('total', '?')}"


@shared_task(bind=True, base=RecordFailures, name="notifications.order_created",
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=True,
             retry_backoff_max=60, retry_jitter=True, max_retries=5)
def order_created(self: Task, event: Any) -> str:
    try:
        parsed = parse(event)
    except InvalidEvent as exc:
        record_failure(self.name, event, str(exc))
        return "poison"
    _, created = Notification.objects.get_or_create(event_id=parsed["id"], defaults={
        "user_id": parsed["user_id"], "kind": parsed["type"], "order_id": parsed["order_id"],
        "message": message(parsed)})
    log.info("order.created handled", extra={"event_id": parsed["id"], "duplicate": not created})
    return "recorded" if created else "duplicate"
