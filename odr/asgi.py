"""ASGI entry point: HTTP through Django; websockets for live notices and the case chat rooms."""

import gc
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

# The garbage collector's pauses stop every connection of the process: with 800 websockets open, a full
# collection walked every object of the process, 50-200 ms several times a minute under load (bench_chat).
# What the process loaded to serve is set aside (frozen) now: the collections walk only what the
# connections and requests made. (Importing every view first to freeze them too cost a websocket process
# 30 MB; rarer collections cut the pauses further but cost a web process 2-8 MB, over its 150 MB budget.)
gc.collect()  # what loading left as garbage goes first, not into the frozen set
gc.freeze()


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginOrTicketValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
