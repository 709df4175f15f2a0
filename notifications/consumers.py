"""``/ws/notifications/``: each signed-in user's notifications pushed as they are written."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer


def user_group(user_id: int) -> str:
    return f"notifications.user.{user_id}"


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """Thin: joins the user's own group and relays what ``notifications.services`` pushes there.

    Authenticated by the session cookie (AuthMiddlewareStack in ``odr.asgi``); the origin is checked by
    AllowedHostsOriginValidator. Anyone else is refused with close code 4401.
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4401)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        pass  # the client only listens

    async def notification_created(self, message):
        await self.send_json(message["notification"])
