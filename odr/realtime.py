"""Sending to websocket groups from synchronous code (services, on-commit hooks)."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def group_send(group: str, message: dict) -> None:
    """Hand ``message`` to every connection in ``group``, on every ASGI process (the channel layer)."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)
