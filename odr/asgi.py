"""ASGI entry point: HTTP through Django; websockets for live notices and the case chat rooms."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odr.settings")
# Requests run in threads of their own under ASGI: connections come from a pool (odr/settings.py).
os.environ.setdefault("ODR_DB_POOL", "1")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from mediation.consumers import ChatConsumer  # noqa: E402
from notifications.consumers import NotificationConsumer  # noqa: E402
from odr.embedded import start_embedded_sweep  # noqa: E402
from odr.ws import OriginOrTicketValidator  # noqa: E402

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    path("ws/cases/<uuid:case_id>/chat/<str:room>/", ChatConsumer.as_asgi()),
]
start_embedded_sweep()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginOrTicketValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
