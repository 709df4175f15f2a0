"""Chat messages in batches: ``mediation.services.message_post_many``, the consumers' ``_Poster`` and
``odr.realtime.group_send_many``.

Proven here: each post of a mixed batch gets its own answer (the stored message or the error that refuses
it) while the others go on; the rate limit counts a user's posts within one batch one after the other;
with ``wait=False`` a case another transaction holds is skipped (``CaseBusy``), nothing stored for it, and
the other cases go on; a batch the database refuses at commit is posted again a message at a time; every
stored message has its hash on its case's chain and the chains verify. Through the websockets: members
writing at once each get every message once, in id order; a delivery to a websocket does not wait for the
process's database thread; a message on a case another transaction holds arrives once, after the lock is
released. On the Redis pub/sub layer, ``group_send_many`` keeps each group's order and loses nothing.

A batch the database refuses (a message it cannot store) is posted again a message at a time: the room
hears only the messages stored, each once, and the refused batch's rate counts are taken back. An author
the database does not know is refused before anything is written.

The row-lock tests need PostgreSQL, the pub/sub one Redis (skipped without them, failed with
ODR_REQUIRE_SERVICES=1). The rate counters are reset by the autouse ``cache.clear()`` (tests/conftest.py),
which on Redis flushes the test's database, where the raw counters live too.
"""

import asyncio
import contextlib
import hashlib
import json
import os
import threading
import time
import uuid

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, connection, connections, transaction

from accounts.models import Role, User
from cases.events import chain_verify
from cases.models import Case, CaseEvent
from mediation.consumers import CLOSE_NOT_MEMBER, _poster
from mediation.models import ChatMessage
from mediation.services import CaseBusy, message_post_many
from odr.errors import Conflict, Forbidden, NotFound, ValidationFailed
from odr.realtime import group_send_many
from tests.conftest import require_postgres
from tests.factories import Cast, case_in, user
from tests.mediation.helpers import chat_path, session_cookie, ws

pytestmark = [pytest.mark.django_db(transaction=True)]


# --- helpers ----------------------------------------------------------------------------------------
def require_redis():
    """Skip unless the channel layer is Redis pub/sub; with ODR_REQUIRE_SERVICES=1 fail instead."""
    if os.environ.get("REDIS_URL"):
        return
    if os.environ.get("ODR_REQUIRE_SERVICES") == "1":
        pytest.fail("ODR_REQUIRE_SERVICES=1 but REDIS_URL is not set")
    pytest.skip("needs Redis (set REDIS_URL)")


def mediation_case() -> tuple[Cast, Case]:
    cast = Cast.make()
    return cast, case_in("mediation", cast)


def bodies(case) -> list[str]:
    return list(ChatMessage.objects.filter(case=case).order_by("id").values_list("body", flat=True))


def assert_on_chain(case, messages: list[ChatMessage]) -> None:
    """One ``message`` event per stored message of ``case`` (its id, its body's hash, its author), and the
    chain verifies."""
    events = list(CaseEvent.objects.filter(case=case, type="message").order_by("seq"))
    assert [(e.payload, e.actor_id, e.actor_role) for e in events] == [
        (
            {"room": m.room, "message": m.pk, "body_sha256": hashlib.sha256(m.body.encode()).hexdigest()},
            m.author_id,
            m.role,
        )
        for m in messages
    ]
    report = chain_verify(case)
    assert report.ok, report
    assert report.count == CaseEvent.objects.filter(case=case).count()


def test_a_batch_costs_the_same_statements_for_one_message_or_many(django_assert_num_queries):
    """No statement a message: eight messages in eight cases take what one takes (BEGIN, the cases locked,
    the messages, their events with the chain heads, COMMIT), and every chain still verifies."""
    require_postgres()
    pairs = [mediation_case() for _ in range(8)]
    cast, case = pairs[0]
    with django_assert_num_queries(5):
        (one,) = message_post_many([(cast.consumer, case.pk, "joint", "One alone.")])
    with django_assert_num_queries(5):
        many = message_post_many([(c.consumer, k.pk, "joint", f"Message {n}.") for n, (c, k) in enumerate(pairs)])
    assert all(isinstance(m, ChatMessage) for m in [one, *many]), many
    for (_cast, case), message in zip(pairs, many, strict=True):
        assert_on_chain(case, list(ChatMessage.objects.filter(case=case).order_by("id")))
        assert bodies(case)[-1] == message.body


class RowHolder:
    """Another database connection (a thread) holding ``case``'s row lock until ``release()``."""

    def __init__(self, case_id, *, hold_for: float | None = None):
        self.case_id, self.hold_for = case_id, hold_for
        self.locked, self.release_event = threading.Event(), threading.Event()
        self.releasing_at: float | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            with transaction.atomic():
                Case.objects.select_for_update().get(pk=self.case_id)
                self.locked.set()
                self.release_event.wait(timeout=self.hold_for or 20)
                self.releasing_at = time.monotonic()  # before COMMIT: nobody else can have the row yet
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            connection.close()

    def start(self) -> "RowHolder":
        self.thread.start()
        assert self.locked.wait(timeout=10), f"the holder did not get the lock: {self.error!r}"
        return self

    def release(self) -> None:
        self.release_event.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the holder hung"
        assert self.error is None, self.error


# --- message_post_many ------------------------------------------------------------------------------
def test_a_mixed_batch_answers_each_post_and_stores_the_valid_ones_in_order():
    """Each post gets its own message or error, in order; the valid ones are stored with increasing ids, and
    each case's chain has one hashed event per message."""
    cast, a = mediation_case()
    cast_b, b = mediation_case()
    outsider = user(Role.CONSUMER)
    posts = [
        (cast.consumer, a.pk, "joint", "  First on A.  "),
        (cast.consumer, a.pk, "joint", "   "),
        (cast_b.consumer, str(b.pk), "joint", "Only on B."),
        (cast.consumer, a.pk, "joint", "bad\x00body"),
        (outsider, a.pk, "joint", "Let me in."),
        (cast.merchant, a.pk, "caucus-consumer", "Peeking."),
        (cast.merchant, a.pk, "joint", "Second on A."),
        (cast.consumer, uuid.uuid4(), "joint", "Nowhere."),
        (cast.consumer, "not-a-uuid", "joint", "Nowhere either."),
        (cast.consumer, a.pk, "joint", "lone \ud800 surrogate"),
        (ghost_of(a), a.pk, "joint", "Boo."),
    ]

    results = message_post_many(posts)

    expected = [ChatMessage, ValidationFailed, ChatMessage, ValidationFailed, NotFound, Forbidden, ChatMessage]
    expected += [NotFound, NotFound, ValidationFailed, NotFound]
    assert [type(r) for r in results] == expected, results
    assert "body" in results[1].fields and "body" in results[3].fields and "body" in results[9].fields
    first, on_b, second = results[0], results[2], results[6]
    assert first.pk < on_b.pk < second.pk
    assert (first.author_id, first.role, first.body) == (cast.consumer.pk, "consumer", "First on A.")
    assert (second.author_id, second.role, second.body) == (cast.merchant.pk, "merchant", "Second on A.")
    assert bodies(a) == ["First on A.", "Second on A."]
    assert bodies(b) == ["Only on B."]
    assert_on_chain(a, [first, second])
    assert_on_chain(b, [on_b])


def test_authors_given_by_id_are_read_as_they_stand_now():
    """The chat's consumers hand in user ids: each is read with the cases (one round trip on PostgreSQL); an
    id no user has is refused as NotFound, a user deactivated since connecting as a non-member, and the
    stored message carries the author as read."""
    cast, case = mediation_case()
    User.objects.filter(pk=cast.merchant.pk).update(display_name="Shop, renamed")
    User.objects.filter(pk=cast.mediator.pk).update(is_active=False)
    gone = User.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    posts = [
        (cast.merchant.pk, case.pk, "joint", "From the shop."),
        (gone, case.pk, "joint", "From no one."),
        (cast.mediator.pk, case.pk, "joint", "From the deactivated mediator."),
        (cast.consumer, case.pk, "joint", "From the consumer, as an object."),
        (AnonymousUser(), case.pk, "joint", "From someone not logged in."),
    ]

    results = message_post_many(posts)

    assert [type(r) for r in results] == [ChatMessage, NotFound, NotFound, ChatMessage, NotFound], results
    assert (results[0].author_id, results[0].author.display_name, results[0].role) == (
        cast.merchant.pk,
        "Shop, renamed",
        "merchant",
    )
    assert bodies(case) == ["From the shop.", "From the consumer, as an object."]
    assert_on_chain(case, [results[0], results[3]])


def test_the_rate_limit_counts_a_users_posts_within_one_batch(settings):
    """Over ``ODR_CHAT_RATE`` in one batch: the user's first posts pass, the rest are ``rate_limited``;
    another user on the same case is not held back."""
    settings.ODR_CHAT_RATE = 2
    settings.ODR_CHAT_RATE_SECONDS = 3600  # the batch cannot straddle two windows
    cast, case = mediation_case()
    posts = [
        (cast.consumer, case.pk, "joint", "one"),
        (cast.consumer, case.pk, "joint", "two"),
        (cast.merchant, case.pk, "joint", "from the shop"),
        (cast.consumer, case.pk, "joint", "three"),
        (cast.consumer, case.pk, "joint", "four"),
    ]

    results = message_post_many(posts)

    assert [type(r) for r in results] == [ChatMessage, ChatMessage, ChatMessage, Conflict, Conflict], results
    assert [r.code for r in results[3:]] == ["rate_limited", "rate_limited"]
    assert bodies(case) == ["one", "two", "from the shop"]
    assert_on_chain(case, results[:3])
    # The counters outlive the batch: the consumer's next post is refused too.
    (again,) = message_post_many([(cast.consumer, case.pk, "joint", "five")])
    assert isinstance(again, Conflict) and again.code == "rate_limited"


def test_without_waiting_a_case_another_transaction_holds_is_skipped():
    """``wait=False``: the held case's post is ``CaseBusy`` and nothing of it is stored, the other case's
    goes on; with ``wait=True`` the post waits for the lock and is stored."""
    require_postgres()
    cast, a = mediation_case()
    cast_b, b = mediation_case()
    holder = RowHolder(a.pk).start()
    try:
        results = message_post_many(
            [(cast.consumer, a.pk, "joint", "Held."), (cast_b.consumer, b.pk, "joint", "Free.")], wait=False
        )
        assert [type(r) for r in results] == [CaseBusy, ChatMessage], results
        assert bodies(a) == []
        assert not CaseEvent.objects.filter(case=a, type="message").exists()
        assert bodies(b) == ["Free."]
        assert_on_chain(b, [results[1]])

        timer = threading.Timer(0.5, holder.release_event.set)
        started = time.monotonic()
        timer.start()
        (waited,) = message_post_many([(cast.consumer, a.pk, "joint", "Held.")], wait=True)
        assert time.monotonic() - started >= 0.45  # it waited for the holder's commit
    finally:
        holder.release()
    assert isinstance(waited, ChatMessage), waited
    assert bodies(a) == ["Held."]
    assert_on_chain(a, [waited])


def test_a_wait_for_a_lock_gives_up_after_its_lock_timeout():
    """A post that waits for its case gives up after ``lock_timeout`` (``CaseBusy``, nothing stored): a
    transaction that holds the case for long does not hold the poster's database thread with it."""
    require_postgres()
    cast, case = mediation_case()
    holder = RowHolder(case.pk).start()
    try:
        started = time.monotonic()
        (result,) = message_post_many([(cast.consumer, case.pk, "joint", "Held.")], wait=True, lock_timeout=0.3)
        waited = time.monotonic() - started
    finally:
        holder.release()
    assert isinstance(result, CaseBusy), result
    assert 0.25 <= waited < 5, waited
    assert bodies(case) == []
    (after,) = message_post_many([(cast.consumer, case.pk, "joint", "Held.")], wait=True, lock_timeout=0.3)
    assert isinstance(after, ChatMessage), after
    assert_on_chain(case, [after])


def long_role(member: User) -> User:
    """``member`` as the room knows them, with a role longer than a message's ``role`` column holds: the
    database refuses to store their message (PostgreSQL: value too long), the policies let it through."""
    return User(
        pk=member.pk, role="consumer-but-longer-than-sixteen", organisation_id=member.organisation_id,
        is_active=True, display_name=member.display_name, email=member.email,
    )  # fmt: skip


def ghost_of(case) -> User:
    """A merchant of ``case``'s organisation (the room lets them write) whom the database does not know."""
    return User(
        pk=987654321, role="merchant", organisation_id=case.merchant_id, is_active=True, display_name="ghost",
        email="g@x",
    )  # fmt: skip


def test_a_batch_the_database_refuses_is_posted_again_one_message_at_a_time():
    """A message the database cannot store fails the batch's transaction: the others are posted alone and
    stored, the bad one's answer is the database's error, and the chain verifies."""
    require_postgres()  # SQLite does not enforce the column's length
    cast, case = mediation_case()
    posts = [
        (cast.consumer, case.pk, "joint", "Before the bad one."),
        (long_role(cast.consumer), case.pk, "joint", "Too long a role."),
        (cast.merchant, case.pk, "joint", "After the bad one."),
    ]

    results = message_post_many(posts)

    assert isinstance(results[0], ChatMessage) and isinstance(results[2], ChatMessage), results
    assert isinstance(results[1], DatabaseError), results
    assert results[0].pk < results[2].pk
    assert bodies(case) == ["Before the bad one.", "After the bad one."]
    assert_on_chain(case, [results[0], results[2]])


def test_a_batch_the_database_refuses_does_not_count_twice_against_the_rate_limit(settings):
    """The refused batch's counts are taken back before the messages are posted alone: a user at the limit
    after the retry has sent only what was stored."""
    settings.ODR_CHAT_RATE = 2
    settings.ODR_CHAT_RATE_SECONDS = 3600
    cast, case = mediation_case()

    require_postgres()
    first = message_post_many(
        [(cast.consumer, case.pk, "joint", "one"), (long_role(cast.consumer), case.pk, "joint", "boo")]
    )
    (second,) = message_post_many([(cast.consumer, case.pk, "joint", "two")])
    (third,) = message_post_many([(cast.consumer, case.pk, "joint", "three")])

    assert isinstance(first[0], ChatMessage) and isinstance(first[1], DatabaseError), first
    assert isinstance(second, ChatMessage), second  # the consumer's second message: within the limit of 2
    assert isinstance(third, Conflict) and third.code == "rate_limited", third
    assert bodies(case) == ["one", "two"]


@pytest.mark.asyncio
async def test_a_batch_the_database_refuses_delivers_only_the_stored_messages():
    """The room hears only what is stored: no message of the batch that was rolled back, none twice."""
    require_postgres()
    cast, case = await database_sync_to_async(mediation_case)()
    layer = get_channel_layer()
    listener = await layer.new_channel()
    await layer.group_add(f"chat.{case.pk}.joint", listener)
    try:
        results = await database_sync_to_async(message_post_many)(
            [
                (cast.consumer, case.pk, "joint", "Before the bad one."),
                (long_role(cast.consumer), case.pk, "joint", "Too long a role."),
                (cast.merchant, case.pk, "joint", "After the bad one."),
            ]
        )
        assert isinstance(results[0], ChatMessage) and isinstance(results[2], ChatMessage), results
        heard = []
        with contextlib.suppress(TimeoutError):
            while True:
                heard.append(json.loads((await asyncio.wait_for(layer.receive(listener), timeout=0.5))["text"]))
        assert [(m["id"], m["body"]) for m in heard] == [(r.pk, r.body) for r in (results[0], results[2])], heard
    finally:
        await layer.group_discard(f"chat.{case.pk}.joint", listener)
        await database_sync_to_async(connections.close_all)()


# --- through the websockets -------------------------------------------------------------------------
@pytest_asyncio.fixture
async def closing():
    """Disconnect the test's websockets and close the database thread's connection after the test."""
    opened = []
    yield opened
    for socket in opened:
        # Already closed by the application, or cancelled by a receive that timed out.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await socket.disconnect()
    await database_sync_to_async(connections.close_all)()


async def join(closing, case, who):
    cookie = await database_sync_to_async(session_cookie)(who)
    socket = ws(chat_path(case), cookie=cookie)
    connected, code = await socket.connect()
    assert connected, code
    closing.append(socket)
    return socket


async def messages_of(socket, count: int, timeout: float = 5) -> list[dict]:
    """The next ``count`` message frames (presence notices skipped)."""
    frames = []
    async with asyncio.timeout(timeout):
        while len(frames) < count:
            frame = await socket.receive_json_from(timeout=timeout)
            if frame["type"] == "message":
                frames.append(frame)
            else:
                assert frame["type"] == "presence", frame
    return frames


async def no_more_messages(socket, timeout: float = 0.5) -> None:
    while not await socket.receive_nothing(timeout=timeout):
        frame = await socket.receive_json_from(timeout=1)
        assert frame["type"] == "presence", f"an extra frame: {frame}"


@pytest.mark.asyncio
async def test_members_writing_at_once_each_get_every_message_once_in_id_order(closing):
    """Three members send five messages each, all at once: every member receives all fifteen exactly once,
    in increasing id order, and those are exactly the stored messages."""
    cast, case = await database_sync_to_async(mediation_case)()
    members = [cast.consumer, cast.merchant, cast.mediator]
    sockets = [await join(closing, case, who) for who in members]
    sent = {f"{who.role} {n}" for who in members for n in range(5)}

    await asyncio.gather(
        *(
            socket.send_json_to({"type": "message", "body": f"{who.role} {n}"})
            for n in range(5)
            for who, socket in zip(members, sockets, strict=True)
        )
    )

    received = [await messages_of(socket, 15, timeout=10) for socket in sockets]
    for socket in sockets:
        await no_more_messages(socket)
    for frames in received:
        ids = [f["id"] for f in frames]
        assert ids == sorted(ids) and len(set(ids)) == 15
        assert {f["body"] for f in frames} == sent
        assert frames == received[0]
    for who in members:  # each member's own messages in the order they were sent
        assert [f["body"] for f in received[0] if f["author_id"] == who.pk] == [f"{who.role} {n}" for n in range(5)]
    stored = await database_sync_to_async(lambda: list(ChatMessage.objects.filter(case=case).order_by("id")))()
    assert [(m.pk, m.body) for m in stored] == [(f["id"], f["body"]) for f in received[0]]
    report = await database_sync_to_async(chain_verify)(case)
    assert report.ok, report


@pytest.mark.asyncio
async def test_a_delivery_does_not_wait_for_the_database_thread(closing):
    """While the process's one database thread is busy for 1.5 s, a message sent to the room reaches the
    member's websocket within 0.5 s."""
    cast, case = await database_sync_to_async(mediation_case)()
    socket = await join(closing, case, cast.consumer)
    await no_more_messages(socket, timeout=0.2)
    busy = asyncio.create_task(database_sync_to_async(time.sleep)(1.5))
    await asyncio.sleep(0.05)  # the sleep has the thread
    message = {"id": 1, "room": "joint", "author": "x", "author_id": 0, "role": "mediator", "body": "Quick."}
    started = time.monotonic()
    try:
        await get_channel_layer().group_send(f"chat.{case.pk}.joint", {"type": "chat.message", "message": message})
        frame = await socket.receive_json_from(timeout=0.5)
        elapsed = time.monotonic() - started
        assert frame == {"type": "message", **message}
        assert elapsed < 0.5
        assert not busy.done()  # the database thread was still busy when it arrived
    finally:
        await busy


@pytest.mark.asyncio
async def test_a_member_whose_message_is_being_stored_still_hears_the_room(closing):
    """A member's message waits for the busy database thread: meanwhile the room's other messages still reach
    that member within 0.5 s, and its own arrives, stored, once the thread is free."""
    cast, case = await database_sync_to_async(mediation_case)()
    socket = await join(closing, case, cast.consumer)
    await no_more_messages(socket, timeout=0.2)
    busy = asyncio.create_task(database_sync_to_async(time.sleep)(1.5))
    await asyncio.sleep(0.05)  # the sleep has the thread
    await socket.send_json_to({"type": "message", "body": "Mine, waiting."})
    async with asyncio.timeout(2):  # the consumer has taken the frame and handed it to the poster
        while _poster().task is None:
            await asyncio.sleep(0.01)
    other = {"id": 1, "room": "joint", "author": "x", "author_id": 0, "role": "mediator", "body": "Meanwhile."}
    started = time.monotonic()
    try:
        await get_channel_layer().group_send(f"chat.{case.pk}.joint", {"type": "chat.message", "message": other})
        frame = await socket.receive_json_from(timeout=0.5)
        assert frame == {"type": "message", **other}
        assert time.monotonic() - started < 0.5
        assert not busy.done()
    finally:
        await busy
    (mine,) = await messages_of(socket, 1, timeout=5)
    assert mine["body"] == "Mine, waiting."
    stored = await database_sync_to_async(lambda: list(ChatMessage.objects.filter(case=case).values_list("id")))()
    assert stored == [(mine["id"],)]


@pytest.mark.asyncio
async def test_more_messages_than_a_connection_may_have_unanswered_all_go_in_order(closing):
    """Sent faster than they are stored (the database thread busy), more than UNANSWERED messages: the
    connection reads the later ones as the earlier are answered, and all are stored and heard once, in order."""
    from mediation.consumers import UNANSWERED

    cast, case = await database_sync_to_async(mediation_case)()
    socket = await join(closing, case, cast.consumer)
    await no_more_messages(socket, timeout=0.2)
    count = UNANSWERED + 4
    busy = asyncio.create_task(database_sync_to_async(time.sleep)(1.0))
    await asyncio.sleep(0.05)
    for n in range(count):
        await socket.send_json_to({"type": "message", "body": f"burst {n}"})
    await asyncio.sleep(0.3)
    assert not busy.done()
    assert len(_poster().pending) <= UNANSWERED  # the rest wait unread, as frames
    await busy
    frames = await messages_of(socket, count, timeout=10)
    await no_more_messages(socket)
    assert [f["body"] for f in frames] == [f"burst {n}" for n in range(count)]
    stored = await database_sync_to_async(lambda: list(ChatMessage.objects.filter(case=case).order_by("id")))()
    assert [(m.pk, m.body) for m in stored] == [(f["id"], f["body"]) for f in frames]


@pytest.mark.asyncio
async def test_a_later_message_does_not_overtake_one_whose_lock_wait_timed_out(monkeypatch):
    """The poster's order (the database stands aside: which messages go in which round is the point). A
    connection's first message has waited for its case PATIENCE times and its lock wait then times out; its
    second message, still fresh, waits for it rather than going with the round's batch; another case's goes."""
    from mediation.consumers import _Poster

    poster, rounds = _Poster(), []

    async def run(items, wait):
        rounds.append(([item[0][3] for item in items], wait))
        if wait and len(rounds) == 1:  # the case's lock stays taken for LOCK_TIMEOUT: busy again
            for item in items:
                item[2] += 1
            return list(items)
        for item in items:
            item[1].set_result(item[0][3])
        return []

    monkeypatch.setattr(poster, "_run", run)
    first = poster.submit(1, "case-a", "joint", "first")
    poster.pending[0][2] = _Poster.PATIENCE
    second = poster.submit(1, "case-a", "joint", "second")
    other = poster.submit(2, "case-b", "joint", "other")
    assert await asyncio.wait_for(asyncio.gather(first, second, other), 2) == ["first", "second", "other"]
    assert rounds == [(["first"], True), (["other"], False), (["first"], True), (["second"], False)]


@pytest.mark.asyncio
async def test_a_message_on_a_case_another_transaction_holds_arrives_once_after_the_lock(closing):
    """Sent while another connection holds the case's row: the message is stored and delivered once, after the
    holder commits, and the chain verifies."""
    await database_sync_to_async(require_postgres)()
    cast, case = await database_sync_to_async(mediation_case)()
    consumer = await join(closing, case, cast.consumer)
    merchant = await join(closing, case, cast.merchant)
    holder = RowHolder(case.pk, hold_for=0.6)
    await asyncio.to_thread(holder.start)
    try:
        await consumer.send_json_to({"type": "message", "body": "While the case is busy."})
        (frame,) = await messages_of(merchant, 1, timeout=5)
        arrived = time.monotonic()
    finally:
        await asyncio.to_thread(holder.release)
    assert frame["body"] == "While the case is busy." and frame["author_id"] == cast.consumer.pk
    assert holder.releasing_at is not None and arrived > holder.releasing_at
    (own,) = await messages_of(consumer, 1)
    assert own == frame
    await no_more_messages(consumer)
    await no_more_messages(merchant)
    assert await database_sync_to_async(bodies)(case) == ["While the case is busy."]
    report = await database_sync_to_async(chain_verify)(case)
    assert report.ok, report


# --- group_send_many on the Redis pub/sub layer -----------------------------------------------------
@pytest.mark.asyncio
async def test_group_send_many_keeps_each_groups_order_on_the_pubsub_layer():
    """Twenty messages interleaved over two groups, sent from a thread: all arrive, each group's in the
    order given."""
    require_redis()
    layer = get_channel_layer()
    assert type(layer).__name__ == "PubSubChannelLayer"
    groups = [f"order-test.{uuid.uuid4().hex}.one", f"order-test.{uuid.uuid4().hex}.two"]
    channel = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    try:
        sends = [(groups[n % 2], {"type": "test.message", "group": n % 2, "n": n}) for n in range(20)]
        errors = await asyncio.to_thread(group_send_many, sends)
        assert errors == [None] * 20
        received = [await asyncio.wait_for(layer.receive(channel), timeout=5) for _ in range(20)]
        for g in (0, 1):
            assert [m["n"] for m in received if m["group"] == g] == list(range(g, 20, 2))
        with pytest.raises(TimeoutError):  # nothing twice
            await asyncio.wait_for(layer.receive(channel), timeout=0.3)
    finally:
        for group in groups:
            await layer.group_discard(group, channel)


@pytest.mark.asyncio
async def test_a_connection_that_does_not_read_holds_at_most_its_capacity(settings, caplog):
    """A reader that stops reading: its mailbox keeps the first ``capacity`` messages, drops the rest (logged
    once), and takes messages again once it has read; a reader beside it in the group gets every one."""
    require_redis()
    from odr.channel_layer import PubSubChannelLayer

    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    layer = PubSubChannelLayer(**{**config, "capacity": 5})
    group = f"capacity-test.{uuid.uuid4().hex}"
    slow, fast = await layer.new_channel(), await layer.new_channel()
    await layer.group_add(group, slow)
    await layer.group_add(group, fast)
    try:
        heard = []
        for first, last in ((0, 4), (5, 8), (9, 11)):  # the reader reads as it goes, the other never
            for n in range(first, last + 1):
                await layer.group_send(group, {"type": "test.message", "n": n})
            heard += [(await asyncio.wait_for(layer.receive(fast), timeout=5))["n"] for _ in range(first, last + 1)]
        assert heard == list(range(12))
        kept = [(await asyncio.wait_for(layer.receive(slow), timeout=5))["n"] for _ in range(5)]
        assert kept == [0, 1, 2, 3, 4]
        assert len([r for r in caplog.records if "dropping its messages" in r.getMessage()]) == 1
        await layer.group_send(group, {"type": "test.message", "n": 12})
        # The next one it reads is the new one: the other seven were dropped, not queued. (A receive that
        # times out would end the channel: channels-redis takes a cancelled receive for a consumer leaving.)
        assert (await asyncio.wait_for(layer.receive(slow), timeout=5))["n"] == 12
        assert any("reads again after 7 messages were dropped" in r.getMessage() for r in caplog.records)
    finally:
        await layer.group_discard(group, slow)
        await layer.group_discard(group, fast)
        await layer.flush()


def test_a_slow_reader_gets_runs_of_messages_and_one_log_line_a_run(caplog):
    """A reader slower than its room (not stopped): once its mailbox is full, what comes is dropped until it
    has read half, then taken again; not every other message, with two log lines each."""
    from odr.channel_layer import Mailbox

    box = Mailbox("specific.slow", capacity=4)
    taken = []
    for n in range(40):
        box.put_nowait(n)
        if n % 2:  # it reads one message for every two the room sends
            taken.append(box.get_nowait())
    while not box.empty():
        taken.append(box.get_nowait())
    assert taken[:4] == [0, 1, 2, 3]
    gaps = [b - a for a, b in zip(taken, taken[1:], strict=False) if b - a > 1]
    runs = len(gaps) + 1
    assert runs < 12, taken  # runs of consecutive messages, not one in two
    drops = [r for r in caplog.records if "dropping its messages" in r.getMessage()]
    again = [r for r in caplog.records if "reads again" in r.getMessage()]
    # One line when a run of drops starts, one when it ends (the last run may still be going).
    assert len(again) == len(gaps) and len(drops) == len(gaps) + (1 if box.dropped else 0), (drops, again, taken)
    assert box.qsize() == 0


@pytest.mark.asyncio
async def test_a_removed_member_is_cut_off_by_the_periodic_check_without_any_announcement(closing, settings):
    """Membership is asked again every ``ODR_CHAT_RECHECK_SECONDS`` even when no ``chat.recheck`` arrives (the
    pub/sub layer delivers at most once): a member deactivated quietly, sending nothing, is cut off."""
    settings.ODR_CHAT_RECHECK_SECONDS = 0.3
    cast, case = await database_sync_to_async(mediation_case)()
    merchant = await join(closing, case, cast.merchant)
    await database_sync_to_async(User.objects.filter(pk=cast.merchant.pk).update)(is_active=False)

    frames = []
    async with asyncio.timeout(5):
        while True:
            frame = await merchant.receive_output(timeout=5)
            frames.append(frame)
            if frame["type"] == "websocket.close":
                break
    assert frames[-1] == {"type": "websocket.close", "code": CLOSE_NOT_MEMBER}, frames
    assert any('"not_member"' in f.get("text", "") for f in frames), frames


@pytest.mark.asyncio
async def test_a_frame_that_is_not_json_text_gets_an_error_and_the_connection_stays(closing):
    """Garbage text and a binary frame are answered with an error, as an unknown type is; the member can
    go on writing (channels would have ended the consumer with an exception)."""
    cast, case = await database_sync_to_async(mediation_case)()
    consumer = await join(closing, case, cast.consumer)
    for frame in ({"text_data": "{not json"}, {"bytes_data": b"\x00\x01"}):
        await consumer.send_to(**frame)
        while True:
            reply = await consumer.receive_json_from(timeout=5)
            if reply["type"] != "presence":
                break
        assert reply == {"type": "error", "error": {"code": "invalid", "message": "unknown type"}}, reply
    await consumer.send_json_to({"type": "message", "body": "Still here."})
    (message,) = await messages_of(consumer, 1)
    assert message["body"] == "Still here."


@pytest.mark.asyncio
async def test_the_periodic_check_cuts_off_only_who_no_longer_belongs(closing, settings):
    """One check for all the process's connections: the deactivated merchant is cut off, the consumer in
    the same room stays and goes on writing."""
    settings.ODR_CHAT_RECHECK_SECONDS = 0.3
    cast, case = await database_sync_to_async(mediation_case)()
    consumer = await join(closing, case, cast.consumer)
    merchant = await join(closing, case, cast.merchant)
    await database_sync_to_async(User.objects.filter(pk=cast.merchant.pk).update)(is_active=False)

    async with asyncio.timeout(5):
        while (frame := await merchant.receive_output(timeout=5))["type"] != "websocket.close":
            pass
    assert frame == {"type": "websocket.close", "code": CLOSE_NOT_MEMBER}
    await asyncio.sleep(0.7)  # two more rounds: the consumer is still a member
    await consumer.send_json_to({"type": "message", "body": "Still here."})
    (message,) = await messages_of(consumer, 1)
    assert message["body"] == "Still here."


@pytest.mark.asyncio
async def test_a_refused_connection_leaves_no_channel_behind(closing):
    """A connection refused at connect (not a member) ends with its channel gone from the process's layer:
    no mailbox, no subscription left for the life of the process."""
    require_redis()
    cast, case = await database_sync_to_async(mediation_case)()
    outsider = await database_sync_to_async(user)(Role.CONSUMER)
    member = await join(closing, case, cast.consumer)  # the layer's connection for this loop is up
    channels = get_channel_layer()._get_layer().channels
    before = set(channels)
    socket = ws(chat_path(case), cookie=await database_sync_to_async(session_cookie)(outsider))
    connected, code = await socket.connect()
    assert not connected and code == CLOSE_NOT_MEMBER
    await socket.disconnect()  # the client side goes; the application ends
    assert set(channels) == before
    await member.disconnect()
    assert set(channels) < before  # the member's own channel went with it


@pytest.mark.asyncio
async def test_a_consumer_that_fails_in_a_handler_leaves_its_groups_and_channel(closing):
    """An error in a room event's handler ends the connection before any disconnect: it still leaves its
    groups and its channel (no mailbox left filling with the room's messages for the life of the process)."""
    require_redis()
    cast, case = await database_sync_to_async(mediation_case)()
    failing = await join(closing, case, cast.consumer)
    layer = get_channel_layer()._get_layer()
    (channel,) = layer.channels  # this test's event loop has this one connection
    assert any(channel in members for members in layer.groups.values())
    await get_channel_layer().group_send(f"chat.{case.pk}.joint", {"type": "chat.no_such_event"})
    with pytest.raises(ValueError, match="No handler"):
        for _frame in range(10):  # its own presence first, then the failure
            await failing.receive_output(timeout=5)
    assert channel not in layer.channels
    assert not any(channel in members for members in layer.groups.values())
