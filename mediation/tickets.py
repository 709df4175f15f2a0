"""Single-use websocket tickets for clients without the session cookie (``POST /api/v1/ws-ticket/``)."""

import secrets

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

PREFIX = "ws-ticket:"


def ticket_issue(user) -> str:
    ticket = secrets.token_urlsafe(32)
    issued = timezone.now().timestamp()
    # The cache forgets it a little after its lifetime; the issue time decides, whatever the cache.
    cache.set(PREFIX + ticket, {"user": user.pk, "issued": issued}, timeout=settings.ODR_WS_TICKET_SECONDS + 5)
    return ticket


def ticket_redeem(ticket: str):
    """The ticket's user, once and within its lifetime: the first redemption deletes it (``delete`` is
    atomic in Redis, so two connections racing with one ticket cannot both win)."""
    from accounts.models import User

    if not ticket or len(ticket) > 100:
        return None
    key = PREFIX + ticket
    value = cache.get(key)
    if not isinstance(value, dict) or not cache.delete(key):
        return None
    if timezone.now().timestamp() - value["issued"] > settings.ODR_WS_TICKET_SECONDS:
        return None
    return User.objects.filter(pk=value["user"], is_active=True).first()
