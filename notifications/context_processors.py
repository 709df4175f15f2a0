"""The unread count for the bell in every page's header."""

from . import selectors


def unread(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": selectors.notification_unread_count(user)}
