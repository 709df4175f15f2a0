"""``/ws/cases/{id}/chat/{room}/`` through the whole ASGI stack (``odr.asgi.application``): origin check,
session-cookie and ticket authentication, room membership at connect and for every message, removal
mid-session, presence and typing, limits, and the message log (hashes on the chain, text only in the room).
"""

import contextlib
import datetime as dt
import hashlib
import json

import pytest
import pytest_asyncio
import time_machine
from channels.db import database_sync_to_async as sync_to_async
from django.db import connections
from django.utils import timezone

from accounts.models import Role, User
from cases.models import CaseEvent
from mediation.consumers import CLOSE_NOT_MEMBER, CLOSE_UNAUTHENTICATED
from mediation.models import ChatMessage
from tests.conftest import client_for
from tests.factories import Cast, case_in, user
from tests.mediation.helpers import chat_path, page_client, session_cookie, unzip_all, url, ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


# --- helpers ----------------------------------------------------------------------------------------
@pytest_asyncio.fixture
async def closing():
    """Close the worker thread's database connection after the test (before the database is dropped)."""
    opened = []
    yield opened
    for socket in opened:
        with contextlib.suppress(Exception):  # already closed by the application
            await socket.disconnect()
    await sync_to_async(connections.close_all)()


async def mediation_case():
    cast = await sync_to_async(Cast.make)()
    case = await sync_to_async(case_in)("mediation", cast)
    return cast, case


async def join(closing, case, who, room="joint", *, cookie=None, ticket=None, origin=b"http://testserver"):
    """Connect ``who`` (a user, by session cookie) to ``room``; returns (socket, connected, close code)."""
    if who is not None and cookie is None:
        cookie = await sync_to_async(session_cookie)(who)
    socket = ws(chat_path(case, room, ticket), cookie=cookie, origin=origin)
    connected, code = await socket.connect()
    if connected:
        closing.append(socket)
    return socket, connected, code


async def drain(socket, timeout=0.2) -> list[dict]:
    """Everything the socket has been sent so far (JSON frames)."""
    frames = []
    while not await socket.receive_nothing(timeout=timeout):
        frames.append(await socket.receive_json_from(timeout=1))
    return frames


async def next_of(socket, kind: str, timeout=2) -> dict:
    """The next frame of type ``kind``, skipping presence notices."""
    while True:
        frame = await socket.receive_json_from(timeout=timeout)
        if frame["type"] == kind:
            return frame
        assert frame["type"] == "presence", frame


async def say(socket, body):
    await socket.send_json_to({"type": "message", "body": body})


def api_post(user_, path, body=None):
    return client_for(user_).post(path, body or {}, format="json")


def api_get(user_, path):
    return client_for(user_).get(path)


@sync_to_async
def stored(case, **filters):
    return list(ChatMessage.objects.filter(case=case, **filters).order_by("id").values_list("body", flat=True))


@sync_to_async
def event_payloads(case, type_=None):
    events = CaseEvent.objects.filter(case=case).order_by("seq")
    if type_:
        events = events.filter(type=type_)
    return [e.payload for e in events]


# --- members talk ---------------------------------------------------------------------------------
async def test_the_parties_and_the_mediator_exchange_messages_in_the_joint_room(closing):
    cast, case = await mediation_case()
    consumer, ok1, _ = await join(closing, case, cast.consumer)
    merchant, ok2, _ = await join(closing, case, cast.merchant)
    mediator, ok3, _ = await join(closing, case, cast.mediator)
    assert ok1 and ok2 and ok3
    everyone = (consumer, merchant, mediator)

    for speaker, socket, body in (
        (cast.consumer, consumer, "The parcel never came."),
        (cast.merchant, merchant, "我们的记录显示已送达。"),
        (cast.mediator, mediator, "Let us look at the tracking together."),
    ):
        await say(socket, body)
        frames = [await next_of(s, "message") for s in everyone]
        assert all(f == frames[0] for f in frames)  # the same message reaches every member, the author too
        message = frames[0]
        assert message["body"] == body
        assert message["author"] == speaker.display_name
        assert message["author_id"] == speaker.pk
        assert message["role"] == speaker.role
        assert message["room"] == "joint"
        assert message["sent_at"].endswith("Z")

    assert await stored(case, room="joint") == [
        "The parcel never came.",
        "我们的记录显示已送达。",
        "Let us look at the tracking together.",
    ]


async def test_messages_are_stored_and_only_their_hash_goes_on_the_chain(closing):
    cast, case = await mediation_case()
    consumer, ok, _ = await join(closing, case, cast.consumer)
    assert ok
    body = "  I would settle for a refund of 60 euros.  "
    await say(consumer, body)
    message = await next_of(consumer, "message")
    assert message["body"] == body.strip()
    row = await sync_to_async(ChatMessage.objects.get)(pk=message["id"])
    assert (row.room, row.author_id, row.role, row.body) == ("joint", cast.consumer.pk, "consumer", body.strip())
    (payload,) = await event_payloads(case, "message")
    assert payload == {
        "room": "joint",
        "message": row.pk,
        "body_sha256": hashlib.sha256(body.strip().encode()).hexdigest(),
    }
    assert "refund of 60" not in json.dumps(await event_payloads(case), ensure_ascii=False)


# --- authentication ---------------------------------------------------------------------------------
async def test_a_ticket_authenticates_once(closing):
    cast, case = await mediation_case()
    issued = await sync_to_async(api_post)(cast.consumer, "/api/v1/ws-ticket/")
    assert issued.status_code == 201
    assert issued.json()["expires_in"] == 60
    ticket = issued.json()["ticket"]

    socket, connected, _ = await join(closing, case, None, ticket=ticket)
    assert connected
    await say(socket, "Connected with a ticket.")
    message = await next_of(socket, "message")
    assert message["author_id"] == cast.consumer.pk

    again, connected, code = await join(closing, case, None, ticket=ticket)
    assert not connected and code == CLOSE_UNAUTHENTICATED
    _, connected, code = await join(closing, case, None, ticket="not-a-ticket")
    assert not connected and code == CLOSE_UNAUTHENTICATED


async def test_anonymous_callers_get_no_ticket(closing):
    answer = await sync_to_async(api_post)(None, "/api/v1/ws-ticket/")
    assert answer.status_code in (401, 403)


async def test_a_non_browser_client_without_an_origin_connects_with_a_ticket(closing):
    cast, case = await mediation_case()
    ticket = (await sync_to_async(api_post)(cast.consumer, "/api/v1/ws-ticket/")).json()["ticket"]
    _, connected, _ = await join(closing, case, None, ticket=ticket, origin=None)
    assert connected


async def test_a_session_cookie_without_an_origin_is_refused(closing):
    cast, case = await mediation_case()
    _, connected, _ = await join(closing, case, cast.consumer, origin=None)
    assert not connected


async def test_an_expired_ticket_is_refused(closing):
    cast, case = await mediation_case()
    first = (await sync_to_async(api_post)(cast.merchant, "/api/v1/ws-ticket/")).json()["ticket"]
    second = (await sync_to_async(api_post)(cast.merchant, "/api/v1/ws-ticket/")).json()["ticket"]
    now = timezone.now()
    with time_machine.travel(now + dt.timedelta(seconds=58)):
        _, connected, _ = await join(closing, case, None, ticket=first)
        assert connected
    with time_machine.travel(now + dt.timedelta(seconds=61)):
        _, connected, code = await join(closing, case, None, ticket=second)
        assert not connected and code == CLOSE_UNAUTHENTICATED


async def test_a_ticket_of_a_since_deactivated_user_is_refused(closing):
    cast, case = await mediation_case()
    ticket = (await sync_to_async(api_post)(cast.merchant, "/api/v1/ws-ticket/")).json()["ticket"]
    await sync_to_async(User.objects.filter(pk=cast.merchant.pk).update)(is_active=False)
    _, connected, code = await join(closing, case, None, ticket=ticket)
    assert not connected and code == CLOSE_UNAUTHENTICATED


async def test_anonymous_without_a_ticket_is_refused(closing):
    _, case = await mediation_case()
    _, connected, code = await join(closing, case, None)
    assert not connected and code == CLOSE_UNAUTHENTICATED


async def test_a_foreign_origin_is_refused_even_with_a_valid_session(closing):
    cast, case = await mediation_case()
    _, connected, _ = await join(closing, case, cast.consumer, origin=b"http://evil.example")
    assert not connected
    _, connected, _ = await join(closing, case, cast.consumer, origin=b"http://testserver.evil.example")
    assert not connected


# --- membership -------------------------------------------------------------------------------------
async def test_each_party_is_kept_out_of_the_other_partys_caucus(closing):
    cast, case = await mediation_case()
    for who, room in ((cast.merchant, "caucus-consumer"), (cast.consumer, "caucus-merchant")):
        _, connected, code = await join(closing, case, who, room)
        assert not connected and code == CLOSE_NOT_MEMBER, (who.role, room)
    for who, room in (
        (cast.consumer, "caucus-consumer"),
        (cast.merchant, "caucus-merchant"),
        (cast.mediator, "caucus-consumer"),
        (cast.mediator, "caucus-merchant"),
    ):
        _, connected, _ = await join(closing, case, who, room)
        assert connected, (who.role, room)


async def test_outsiders_are_refused(closing):
    cast, case = await mediation_case()
    outsiders = await sync_to_async(lambda: [user(Role.CONSUMER), user(Role.MERCHANT), user(Role.MEDIATOR)])()
    for who in (*outsiders, cast.operator, cast.arbitrator):
        _, connected, code = await join(closing, case, who)
        assert not connected and code == CLOSE_NOT_MEMBER, who.role
    _, connected, code = await join(closing, case, cast.consumer, "lobby")
    assert not connected and code == CLOSE_NOT_MEMBER


async def test_a_mediator_replaced_mid_session_is_cut_off(closing):
    cast, case = await mediation_case()
    consumer, _, _ = await join(closing, case, cast.consumer)
    old, connected, _ = await join(closing, case, cast.mediator)
    caucus, connected2, _ = await join(closing, case, cast.mediator, "caucus-consumer")
    assert connected and connected2
    await drain(consumer)
    await drain(old)
    await drain(caucus)
    successor = await sync_to_async(user)(Role.MEDIATOR)

    answer = await sync_to_async(api_post)(cast.operator, url(case, "actions/assign_mediator/"), {"user": successor.pk})
    assert answer.status_code == 200, answer.content

    for socket in (old, caucus):
        error = await socket.receive_json_from(timeout=2)
        assert error["type"] == "error" and error["error"]["code"] == "not_member"
        closed = await socket.receive_output(timeout=2)
        assert closed == {"type": "websocket.close", "code": CLOSE_NOT_MEMBER}
    # The parties stay.
    assert await consumer.receive_nothing(timeout=0.3)

    # Whatever the old mediator still sends (before the close reaches it) is stored nowhere, and nothing
    # more is sent on the closed connection.
    await say(old, "I am still here.")
    assert await old.receive_nothing(timeout=0.5)
    assert await consumer.receive_nothing(timeout=0.3)
    assert await stored(case) == []
    _, connected, code = await join(closing, case, cast.mediator)
    assert not connected and code == CLOSE_NOT_MEMBER

    # The successor joins, and the consumer's connection works on.
    newcomer, connected, _ = await join(closing, case, successor)
    assert connected
    await say(consumer, "Welcome.")
    assert (await next_of(newcomer, "message"))["body"] == "Welcome."


async def test_a_deactivated_merchant_is_cut_off_at_their_next_message(closing):
    cast, case = await mediation_case()
    consumer, _, _ = await join(closing, case, cast.consumer)
    merchant, connected, _ = await join(closing, case, cast.merchant)
    assert connected
    await say(merchant, "Before.")
    assert (await next_of(consumer, "message"))["body"] == "Before."
    await drain(merchant)
    await sync_to_async(User.objects.filter(pk=cast.merchant.pk).update)(is_active=False)

    await say(merchant, "After.")
    error = await merchant.receive_json_from(timeout=2)
    assert error["type"] == "error" and error["error"]["code"] == "not_member"
    assert await merchant.receive_output(timeout=2) == {"type": "websocket.close", "code": CLOSE_NOT_MEMBER}
    assert await stored(case) == ["Before."]
    frames = await drain(consumer)
    assert not [f for f in frames if f["type"] == "message"]


async def test_typing_is_dropped_for_a_member_removed_meanwhile(closing):
    cast, case = await mediation_case()
    merchant, _, _ = await join(closing, case, cast.merchant)
    await sync_to_async(User.objects.filter(pk=cast.merchant.pk).update)(is_active=False)
    await merchant.send_json_to({"type": "typing"})
    assert (await merchant.receive_json_from(timeout=2))["error"]["code"] == "not_member"


# --- reconnection, typing, presence -------------------------------------------------------------------
async def test_after_a_reconnection_the_missed_messages_come_from_the_history(closing):
    cast, case = await mediation_case()
    consumer, _, _ = await join(closing, case, cast.consumer)
    merchant, _, _ = await join(closing, case, cast.merchant)
    await say(consumer, "Seen by both.")
    last_seen = (await next_of(consumer, "message"))["id"]
    assert (await next_of(merchant, "message"))["id"] == last_seen
    await consumer.disconnect()
    closing.remove(consumer)

    await say(merchant, "Missed one.")
    assert (await next_of(merchant, "message"))["body"] == "Missed one."
    posted = await sync_to_async(api_post)(
        cast.merchant, url(case, "messages/"), {"room": "joint", "body": "Missed two."}
    )
    assert posted.status_code == 201
    assert (await next_of(merchant, "message"))["body"] == "Missed two."  # HTTP posts reach the sockets too
    await say(merchant, "Missed three.")
    assert (await next_of(merchant, "message"))["body"] == "Missed three."

    history = await sync_to_async(api_get)(cast.consumer, url(case, f"messages/?room=joint&after={last_seen}"))
    assert history.status_code == 200
    results = history.json()["results"]
    assert [m["body"] for m in results] == ["Missed one.", "Missed two.", "Missed three."]
    assert [m["id"] for m in results] == sorted(m["id"] for m in results)
    assert all(m["id"] > last_seen for m in results)
    everything = (await sync_to_async(api_get)(cast.consumer, url(case, "messages/?room=joint"))).json()["results"]
    assert [m["body"] for m in everything] == ["Seen by both.", "Missed one.", "Missed two.", "Missed three."]
    assert (await sync_to_async(api_get)(cast.consumer, url(case, "messages/?after=x"))).status_code == 400

    # Back online, new messages arrive live again.
    back, connected, _ = await join(closing, case, cast.consumer)
    assert connected
    await say(merchant, "Live again.")
    assert (await next_of(back, "message"))["body"] == "Live again."


async def test_typing_reaches_the_others_but_not_the_typist(closing):
    cast, case = await mediation_case()
    consumer, _, _ = await join(closing, case, cast.consumer)
    merchant, _, _ = await join(closing, case, cast.merchant)
    mediator, _, _ = await join(closing, case, cast.mediator)
    for socket in (consumer, merchant, mediator):
        await drain(socket)
    await consumer.send_json_to({"type": "typing"})
    expected = {
        "type": "typing",
        "author": cast.consumer.display_name,
        "author_id": cast.consumer.pk,
        "role": "consumer",
    }
    assert await merchant.receive_json_from(timeout=2) == expected
    assert await mediator.receive_json_from(timeout=2) == expected
    assert await consumer.receive_nothing(timeout=0.3)


async def test_presence_joined_here_and_left(closing):
    cast, case = await mediation_case()
    consumer, _, _ = await join(closing, case, cast.consumer)
    assert await consumer.receive_nothing(timeout=0.3)  # nobody else is here, and no echo of oneself

    merchant, _, _ = await join(closing, case, cast.merchant)
    joined = await consumer.receive_json_from(timeout=2)
    assert joined == {
        "type": "presence",
        "author": cast.merchant.display_name,
        "author_id": cast.merchant.pk,
        "role": "merchant",
        "status": "joined",
    }
    here = await merchant.receive_json_from(timeout=2)
    assert here == {
        "type": "presence",
        "author": cast.consumer.display_name,
        "author_id": cast.consumer.pk,
        "role": "consumer",
        "status": "here",
    }
    assert await merchant.receive_nothing(timeout=0.3)

    await merchant.disconnect()
    closing.remove(merchant)
    left = await consumer.receive_json_from(timeout=2)
    assert left["status"] == "left" and left["author_id"] == cast.merchant.pk


async def test_unknown_frames_are_answered_with_an_error(closing):
    cast, case = await mediation_case()
    consumer, _, _ = await join(closing, case, cast.consumer)
    await consumer.send_json_to({"type": "shout", "body": "x"})
    assert (await consumer.receive_json_from(timeout=2))["error"]["code"] == "invalid"
    await consumer.send_json_to({"type": "message", "body": 42})
    assert (await consumer.receive_json_from(timeout=2))["error"]["code"] == "invalid"
    assert await stored(case) == []


# --- limits -------------------------------------------------------------------------------------------
async def test_a_message_over_the_length_limit_is_refused_and_not_stored(closing, settings):
    assert settings.ODR_CHAT_MAX_LENGTH == 2000
    cast, case = await mediation_case()
    consumer, _, _ = await join(closing, case, cast.consumer)
    merchant, _, _ = await join(closing, case, cast.merchant)
    await drain(consumer)
    await drain(merchant)

    await say(consumer, "x" * 2001)
    error = await consumer.receive_json_from(timeout=2)
    assert error["type"] == "error"
    assert error["error"]["code"] == "invalid" and "body" in error["error"]["fields"]
    assert await merchant.receive_nothing(timeout=0.3)
    assert await stored(case) == []
    assert await event_payloads(case, "message") == []

    await say(consumer, "y" * 2000)  # exactly at the limit
    assert len((await next_of(merchant, "message"))["body"]) == 2000
    assert len((await next_of(consumer, "message"))["body"]) == 2000
    await say(consumer, "   ")
    blank = await consumer.receive_json_from(timeout=2)
    assert blank["type"] == "error" and blank["error"]["code"] == "invalid"
    assert await stored(case) == ["y" * 2000]


async def test_sending_faster_than_the_rate_is_refused(closing, settings):
    # A window far longer than the test, so that the burst never straddles two fixed windows.
    settings.ODR_CHAT_RATE_SECONDS = 3600
    rate = settings.ODR_CHAT_RATE
    cast, case = await mediation_case()
    consumer, _, _ = await join(closing, case, cast.consumer)
    for n in range(rate):
        await say(consumer, f"message {n}")
        assert (await next_of(consumer, "message"))["body"] == f"message {n}"
    await say(consumer, "one too many")
    error = await consumer.receive_json_from(timeout=2)
    assert error["type"] == "error" and error["error"]["code"] == "rate_limited"
    assert len(await stored(case)) == rate
    # The limit is per user: the merchant may still talk.
    merchant, _, _ = await join(closing, case, cast.merchant)
    await say(merchant, "I can still write.")
    assert (await next_of(merchant, "message"))["body"] == "I can still write."


async def test_no_more_than_the_rate_in_any_span_of_the_window(closing, settings):
    from mediation.services import message_post

    rate, window = settings.ODR_CHAT_RATE, settings.ODR_CHAT_RATE_SECONDS
    cast, case = await mediation_case()
    boundary = (int(timezone.now().timestamp()) // window + 1) * window + window  # a boundary in the future
    accepted = 0
    for at in (boundary - 0.5, boundary + 0.2):
        with time_machine.travel(dt.datetime.fromtimestamp(at, dt.UTC), tick=False):
            for n in range(rate):
                try:
                    await sync_to_async(message_post)(actor=cast.consumer, case_id=case.pk, room="joint", body=f"{n}")
                    accepted += 1
                except Exception as exc:  # the refusal is a Conflict with code rate_limited
                    assert getattr(exc, "code", "") == "rate_limited"
    # 0.7 s apart, far less than one window: at most ``rate`` may pass.
    assert accepted <= rate


# --- caucus privacy -------------------------------------------------------------------------------------
async def test_caucus_text_stays_in_its_room(closing):
    cast, case = await mediation_case()
    secret = "My real bottom line is 55 EUR, do not tell them."
    caucus, _, _ = await join(closing, case, cast.consumer, "caucus-consumer")
    mediator, _, _ = await join(closing, case, cast.mediator, "caucus-consumer")
    merchant_joint, _, _ = await join(closing, case, cast.merchant)
    await drain(caucus)
    await drain(merchant_joint)

    await say(caucus, secret)
    assert (await next_of(mediator, "message"))["body"] == secret
    assert await merchant_joint.receive_nothing(timeout=0.3)

    row = (await sync_to_async(list)(ChatMessage.objects.filter(case=case)))[0]
    assert row.room == "caucus-consumer" and row.body == secret
    (payload,) = await event_payloads(case, "message")
    assert payload["room"] == "caucus-consumer"
    assert payload["body_sha256"] == hashlib.sha256(secret.encode()).hexdigest()

    # Over HTTP the merchant cannot read the consumer's caucus; the members can.
    denied = await sync_to_async(api_get)(cast.merchant, url(case, "messages/?room=caucus-consumer"))
    assert denied.status_code == 403
    assert secret not in denied.content.decode()
    for member in (cast.consumer, cast.mediator):
        allowed = await sync_to_async(api_get)(member, url(case, "messages/?room=caucus-consumer"))
        assert [m["body"] for m in allowed.json()["results"]] == [secret]
    assert (await sync_to_async(api_get)(cast.consumer, url(case, "messages/?room=caucus-merchant"))).status_code == 403
    posted = await sync_to_async(api_post)(
        cast.merchant, url(case, "messages/"), {"room": "caucus-consumer", "body": "let me in"}
    )
    assert posted.status_code == 403

    # The event log (as anyone reads it), the merchant's export and page hold no caucus text.
    for reader in (cast.merchant, cast.operator, cast.consumer):
        events = await sync_to_async(api_get)(reader, url(case, "events/"))
        assert events.status_code == 200
        assert "bottom line" not in events.content.decode()
    files = await sync_to_async(_export)(cast.merchant, case)
    assert not [name for name, data in files.items() if b"bottom line" in data]
    page = await sync_to_async(lambda: _page(cast.merchant, case))()
    assert "bottom line" not in page


def _export(user_, case) -> dict[str, bytes]:
    answer = api_get(user_, url(case, "export/"))
    assert answer.status_code == 200
    return unzip_all(b"".join(answer.streaming_content))


def _page(user_, case, query=""):
    return page_client(user_).get(f"/cases/{case.pk}/{query}").content.decode()


async def test_the_case_page_shows_a_party_only_their_rooms(closing):
    cast, case = await mediation_case()
    await sync_to_async(api_post)(cast.consumer, url(case, "messages/"), {"room": "caucus-consumer", "body": "psst"})
    merchant_page = await sync_to_async(_page)(cast.merchant, case, "?room=caucus-consumer")
    assert "psst" not in merchant_page
    assert "/chat/caucus-consumer/" not in merchant_page
    consumer_page = await sync_to_async(_page)(cast.consumer, case, "?room=caucus-consumer")
    assert "psst" in consumer_page
