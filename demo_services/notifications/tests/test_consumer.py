from __future__ import annotations

import pytest
from django.db import OperationalError

from inbox import tasks
from inbox.models import FailedEvent, Notification

pytestmark = pytest.mark.django_db


def test_an_event_delivered_twice_has_one_effect(event, caplog) -> None:
    caplog.set_level("INFO")  # log calls must not break the task (reserved LogRecord keys)
    payload = event()
    assert tasks.order_created(payload) == "recorded"
    assert tasks.order_created(payload) == "duplicate"
    [note] = Notification.objects.all()
    assert note.user_id == "alice" and note.message == "Order #7 confirmed, total 21.00"


@pytest.mark.parametrize("poison", ["garbage", None, {"type": "order.created"},
                                    {"id": "e", "type": "order.shipped", "order_id": "o",
                                     "user_id": "u"}])
def test_poison_messages_are_recorded_not_retried(poison) -> None:
    assert tasks.order_created.apply(args=[poison]).get() == "poison"
    [failed] = FailedEvent.objects.all()
    assert failed.task == "notifications.order_created" and failed.error
    assert not Notification.objects.exists()


def test_transient_errors_retry_then_succeed(event, monkeypatch) -> None:
    real, calls = Notification.objects.get_or_create, []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("database is restarting")
        return real(**kwargs)

    monkeypatch.setattr(Notification.objects, "get_or_create", flaky)
    result = tasks.order_created.apply(args=[event()])
    assert result.get() == "recorded" and len(calls) == 3
    assert Notification.objects.count() == 1 and not FailedEvent.objects.exists()


def test_exhausted_retries_are_recorded(event, monkeypatch) -> None:
    def down(**kwargs):
        raise OperationalError("database is down")

    monkeypatch.setattr(Notification.objects, "get_or_create", down)
    payload = event()
    result = tasks.order_created.apply(args=[payload], throw=False)
    assert result.failed()
    [failed] = FailedEvent.objects.all()
    assert failed.event_id == payload["id"] and "OperationalError" in failed.error
