"""``/ws/notifications/``: a signed-in user's new notifications arrive over the websocket; others are refused."""

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connections

from cases import services
from notifications.consumers import NotificationConsumer
from tests.factories import Cast, file_case

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(user):
    communicator = WebsocketCommunicator(NotificationConsumer.as_asgi(), "/ws/notifications/")
    communicator.scope["user"] = user
    return communicator


@pytest.mark.asyncio
async def test_the_merchant_hears_of_a_new_complaint_and_the_consumer_of_the_response():
    cast = await sync_to_async(Cast.make)()
    merchant_ws, consumer_ws = _communicator(cast.merchant), _communicator(cast.consumer)
    assert (await merchant_ws.connect())[0] and (await consumer_ws.connect())[0]

    case = await sync_to_async(file_case)(cast)
    pushed = await merchant_ws.receive_json_from(timeout=5)
    assert pushed["type"] == "notification"
    assert pushed["case"]["reference"] == case.reference
    assert pushed["title"]  # in the merchant's language (zh-hans in the cast)
    assert await consumer_ws.receive_nothing(timeout=0.2)  # the consumer acted: no notice to themselves

    await sync_to_async(services.case_respond)(
        actor=cast.merchant, case_id=case.pk, position="contest", statement="Delivered."
    )
    answer = await consumer_ws.receive_json_from(timeout=5)
    assert answer["case"]["id"] == str(case.pk)
    await merchant_ws.disconnect()
    await consumer_ws.disconnect()
    await sync_to_async(connections.close_all)()  # the worker thread's connection, before the DB is dropped


@pytest.mark.asyncio
async def test_anonymous_is_refused():
    communicator = _communicator(AnonymousUser())
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4401
