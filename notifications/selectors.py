"""Reads of notifications, scoped to the asking user."""

from .models import Notification, WebhookEndpoint


def notification_list_for(user):
    if not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(user=user).select_related("case", "event")


def notification_unread_count(user) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def webhook_list_for(user):
    if not (user.is_authenticated and user.role == "merchant" and user.organisation_id):
        return WebhookEndpoint.objects.none()
    return WebhookEndpoint.objects.filter(organisation_id=user.organisation_id)
