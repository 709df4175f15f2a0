"""The unread count for the bell in every page's header, and whether pages listen for live notices."""

from django.conf import settings

from . import selectors


def unread(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_notifications": selectors.notification_unread_count(user),
        "live_updates": settings.ODR_LIVE_UPDATES,
    }
