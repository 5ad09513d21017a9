"""Notifications (one per event id) and the failure record of events that could not be handled."""

from __future__ import annotations

from django.db import models


class Notification(models.Model):
    event_id = models.CharField(max_length=64, unique=True)
    user_id = models.CharField(max_length=128, db_index=True)
    kind = models.CharField(max_length=64)
    order_id = models.CharField(max_length=64)
    message = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]


class FailedEvent(models.Model):
    """Dead-letter record: a poison message, or one whose retries ran out."""

    task = models.CharField(max_length=128)
    event_id = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(null=True)
    error = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
