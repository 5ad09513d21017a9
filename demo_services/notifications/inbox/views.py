from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import viewsets

from demo_services.common.auth import scope

from .models import Notification
from .serializers import NotificationSerializer


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    """The calling user's notifications, newest first."""

    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()  # for the schema; get_queryset narrows it
    permission_classes = [scope("notifications:read")]

    def get_queryset(self) -> QuerySet[Notification]:
        return Notification.objects.filter(user_id=self.request.user.id)
