"""``/ws/cases/{id}/chat/{room}/``: a case's chat room, live (contract in API.md).

Authenticated by the session cookie or a single-use ``?ticket=`` (``POST /api/v1/ws-ticket/``); the
origin is checked by AllowedHostsOriginValidator (``odr.asgi``). Membership is asked of
``mediation.policies`` at connect and again for every message, and whenever the case changes (the
lifecycle broadcasts ``chat.recheck``), so a participant who is removed is cut off at once. Messages go
through ``mediation.services.message_post_many`` (stored, hashed onto the chain, length and rate limited),
a process's messages in batches (``_Poster``), and reach every member on every ASGI process through the
channel layer.
"""

import asyncio
import contextlib
import functools
import json
import logging
import time
import uuid
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from odr.errors import DomainError, Forbidden, NotFound

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_MEMBER = 4403
TYPING_EVERY_SECONDS = 2.0
#: A connection's messages in the poster at once, not yet answered (stored or refused).
UNANSWERED = 8


def room_group(case_id, room) -> str:
    return f"chat.{case_id}.{room}"


def case_group(case_id) -> str:
    return f"chat.case.{case_id}"


@database_sync_to_async
def _ticket_user(ticket: str):
    from .tickets import ticket_redeem

    return ticket_redeem(ticket)


def _members(connections: list[tuple[int, str, str]]) -> list[bool]:
    """For each ``(user_id, case_id, room)``, whether the user belongs in the room now: fresh from the
    database (the user's active flag and organisation, the case's stage and neutrals), two queries for all."""
    from accounts.models import User
    from cases.models import Case

    from .policies import room_member
    from .services import CHAT_CASE_FIELDS, CHAT_USER_FIELDS

    connections = [(user_id, uuid.UUID(str(case_id)), room) for user_id, case_id, room in connections]
    users = User.objects.only(*CHAT_USER_FIELDS).in_bulk({user_id for user_id, _case, _room in connections})
    cases = Case.objects.only(*CHAT_CASE_FIELDS).in_bulk({case_id for _user, case_id, _room in connections})
    return [
        bool(users.get(user_id) and cases.get(case_id) and room_member(users[user_id], cases[case_id], room))
        for user_id, case_id, room in connections
    ]


@database_sync_to_async
def _is_member(user_id, case_id, room) -> bool:
    return _members([(user_id, case_id, room)])[0]


def _post_batch(posts, wait, lock_timeout=None):
    """``message_post_many`` for what a process's connections sent, as their users stand now: the service
    reads them by id with the cases (a user gone is refused as NotFound, a deactivated one as a non-member:
    either way the connection is cut off)."""
    from .services import message_post_many

    return message_post_many(posts, wait=wait, lock_timeout=lock_timeout)


class _Poster:
    """The messages of a process's connections, written in batches: while one batch is in the database,
    the messages sent meanwhile gather and go together as the next (one transaction, a handful of
    statements, however many). A message sent to an idle poster goes at once, alone.

    A batch does not wait for cases another transaction holds: their messages go again with the next
    batch, at the head of it (a case's messages keep their order), a few milliseconds later. A message
    skipped ``PATIENCE`` times is then posted on its own, waiting for its case's lock, before the rest of
    its batch (waiting for one case at a time, it cannot deadlock with a transaction that locks several)."""

    MAX_BATCH = 200
    PATIENCE = 3
    RETRY_AFTER = 0.005  # seconds before a batch of only skipped messages goes again
    LOCK_TIMEOUT = 5.0  # seconds a message posted alone waits for its case's lock

    def __init__(self):
        self.pending: list[list] = []  # [post, future, times skipped]
        self.task: asyncio.Task | None = None

    def submit(self, user_id, case_id, room, body) -> asyncio.Future:
        """Queue a message at once (a connection's messages are posted in the order submitted); the future
        is its ``ChatMessage`` or the error that refused it."""
        future = asyncio.get_running_loop().create_future()
        self.pending.append([(user_id, case_id, room, body), future, 0])
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._write())
        return future

    async def _write(self) -> None:
        batch: list[list] = []
        try:
            while self.pending:
                if all(skipped for _post, _future, skipped in self.pending):
                    await asyncio.sleep(self.RETRY_AFTER)  # let the holder of their cases commit
                batch, self.pending = self.pending[: self.MAX_BATCH], self.pending[self.MAX_BATCH :]
                # A case whose lock a patient message waited for in vain is held back whole this round: its
                # later messages (a connection may have several under way) must not overtake it.
                again, held = [], set()
                for item in [item for item in batch if item[2] >= self.PATIENCE]:
                    if item[0][1] in held:
                        again.append(item)
                        continue
                    back = await self._run([item], wait=True)  # busy only if its lock timed out
                    if back:
                        held.add(item[0][1])
                        again += back
                rest = [item for item in batch if item[2] < self.PATIENCE]
                again += [item for item in rest if item[0][1] in held]
                again += await self._run([item for item in rest if item[0][1] not in held], wait=False)
                self.pending[:0] = again
                batch = []
        except BaseException as exc:  # cancelled with its loop, or a fault here: no sender waits for ever
            for _post, future, _skipped in batch + self.pending:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("chat poster stopped"))
            self.pending = []
            if not isinstance(exc, Exception):
                raise
            logger.exception("chat: the poster failed")
        finally:
            self.task = None

    async def _run(self, items: list[list], wait: bool) -> list[list]:
        """Post ``items``; resolve each one's future, except those whose case was busy (returned)."""
        from .services import CaseBusy

        if not items:
            return []
        try:
            # A wait for a lock gives up after LOCK_TIMEOUT (the message goes again later): a transaction
            # that holds its case for long must not hold the process's one database thread with it.
            lock_timeout = self.LOCK_TIMEOUT if wait else None
            results = await database_sync_to_async(_post_batch)([item[0] for item in items], wait, lock_timeout)
        except Exception as exc:  # noqa: BLE001 -- each sender's consumer raises it, as before
            results = [exc] * len(items)
        again = []
        for item, result in zip(items, results, strict=True):
            if isinstance(result, CaseBusy):
                item[2] += 1
                again.append(item)
            elif not item[1].done():
                item[1].set_result(result)
        return again


class _Rechecker:
    """Every ``ODR_CHAT_RECHECK_SECONDS``, the membership of every chat connection of the process, asked in
    one trip to the database (two queries, however many connections), besides every change of a case (which
    the lifecycle announces): a ``chat.recheck`` the layer lost (pub/sub delivers at most once) delays a
    removed member's cut-off by that much at most. Whoever no longer belongs is told through their own
    channel (``chat.removed``), so their consumer cuts itself off; told again every round until it has.
    A failed round is logged and the next one comes as usual."""

    def __init__(self):
        self.consumers: set = set()
        self.task: asyncio.Task | None = None

    def add(self, consumer) -> None:
        self.consumers.add(consumer)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, consumer) -> None:
        self.consumers.discard(consumer)

    async def _run(self) -> None:
        try:
            while self.consumers:
                await asyncio.sleep(max(settings.ODR_CHAT_RECHECK_SECONDS, 0.1))
                try:
                    await self._round()
                except Exception:  # a database or Redis blip: ask again next time; the task goes on
                    logger.warning("chat: a membership recheck round failed", exc_info=True)
        finally:
            self.task = None

    async def _round(self) -> None:
        connections = list(self.consumers)
        verdicts = await database_sync_to_async(_members)([(c.user.pk, c.case_id, c.room) for c in connections])
        for consumer, member in zip(connections, verdicts, strict=True):
            # A connection stays in the set until it is cut off: a ``chat.removed`` lost or refused by the
            # layer is sent again next round.
            if not member and consumer in self.consumers:
                try:
                    await consumer.channel_layer.send(consumer.channel_name, {"type": "chat.removed"})
                except Exception:
                    logger.warning("chat: could not tell a connection to %s to close", consumer.group, exc_info=True)


_of_loop: dict[type, tuple[asyncio.AbstractEventLoop, object]] = {}


def _this_loops(kind):
    """The process's one ``kind`` (``_Poster``, ``_Rechecker``) for the running event loop; a new loop (tests
    start one per test) gets a new one, the old one's tasks and futures being gone with its loop."""
    loop = asyncio.get_running_loop()
    if kind not in _of_loop or _of_loop[kind][0] is not loop:
        _of_loop[kind] = (loop, kind())
    return _of_loop[kind][1]


def _poster() -> _Poster:
    return _this_loops(_Poster)


def _rechecker() -> _Rechecker:
    return _this_loops(_Rechecker)


class ChatConsumer(AsyncJsonWebsocketConsumer):
    async def __call__(self, scope, receive, send):
        """channels' ``AsyncConsumer.__call__`` with a loop of its own for each side (below). However the
        connection ends (a disconnect, or an error that ends the consumer without one), it leaves the
        process's periodic membership check."""
        try:
            self.scope = scope
            self.channel_layer = get_channel_layer(self.channel_layer_alias)
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            self.base_send = functools.partial(self._send_while_open, send)
            self.accepted = asyncio.Event()
            self.closed = self.cut = self.left = False
            with contextlib.suppress(StopConsumer):
                await self._serve(receive)
        finally:
            _rechecker().discard(self)
            await self._leave()

    async def _leave(self) -> None:
        """However the consumer ended (a disconnect, or an error in a handler before one), its groups and its
        channel are left: no mailbox keeps filling for a connection that is gone."""
        try:
            if hasattr(self, "group") and not self.left:
                await self._leave_groups()
            release = getattr(self.channel_layer, "release_channel", None)  # the in-memory layer has none
            if release is not None and hasattr(self, "channel_name"):
                await release(self.channel_name)
        except Exception:  # Redis unreachable: its subscriptions go with the connection when it drops
            logger.warning("chat: could not release a connection's channel", exc_info=True)

    async def _send_while_open(self, send, message) -> None:
        """Once this side has closed the connection (a cut-off) or the client has gone, nothing more is sent:
        the room's events already under way are dropped rather than raised (uvicorn refuses a send after the
        close) while the client's side reads the disconnect and ``disconnect`` leaves the groups."""
        if self.closed:
            return
        if message["type"] == "websocket.close":
            self.closed = True
        try:
            await send(message)
        except OSError:  # uvicorn's ClientDisconnected: the client went away; its disconnect follows
            self.closed = True

    async def _serve(self, receive) -> None:
        """What the client sends and what the room sends, each dispatched in order by a loop of its own.
        channels' ``await_many_dispatch`` waits on both at once, a new task and an ``asyncio.wait`` for
        every event: a tenth of a chat server's time under load (bench_chat). The room's events wait until
        the connection is accepted (``connect`` has run); the first loop to end (``StopConsumer`` at the
        disconnect, or an error) ends the other; ``_leave`` then releases what the connection held."""

        async def from_client():
            while True:
                await self.dispatch(await receive())

        async def from_room():
            while True:
                message = await self.channel_receive()
                if not self.accepted.is_set():
                    await self.accepted.wait()
                await self.dispatch(message)

        loops = [asyncio.ensure_future(from_client()), asyncio.ensure_future(from_room())]
        try:
            done, _pending = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
            for loop in done:
                loop.result()
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """A frame that is not JSON text gets an error, as an unknown type does (channels would raise)."""
        try:
            content = json.loads(text_data) if text_data else None
        except ValueError:
            content = None
        await self.receive_json(content, **kwargs)

    async def dispatch(self, message):
        """Channels' own, without its ``aclose_old_connections`` before every event: that is a trip to the
        process's one database thread for each message delivered, each waiting behind the batch being
        written. This consumer reaches the database only through ``database_sync_to_async``, which closes
        old connections itself, before and after."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        kwargs = self.scope["url_route"]["kwargs"]
        self.case_id, self.room = str(kwargs["case_id"]), kwargs["room"]
        user = self.scope.get("user") or AnonymousUser()
        if not user.is_authenticated:
            ticket = parse_qs(self.scope.get("query_string", b"").decode()).get("ticket", [""])[0]
            user = await _ticket_user(ticket) if ticket else None
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await _is_member(user.pk, self.case_id, self.room):
            await self.close(code=CLOSE_NOT_MEMBER)
            return
        self.user = user
        self.last_typing = 0.0
        self.unanswered = asyncio.Semaphore(UNANSWERED)
        self.answering: set[asyncio.Task] = set()  # referenced until done (the loop keeps only weak ones)
        self.group = room_group(self.case_id, self.room)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(case_group(self.case_id), self.channel_name)
        await self.accept()
        self.accepted.set()
        await self._presence("joined")
        _rechecker().add(self)

    async def disconnect(self, code):
        _rechecker().discard(self)
        if hasattr(self, "group"):
            try:
                # Best effort: when many leave at once the layer may refuse a send (its connection pool
                # or a queue full); the others then learn it from their next presence.
                await self._presence("left")
            except Exception:
                logger.warning("chat: could not announce that %s left %s", self.user.pk, self.group, exc_info=True)
            finally:
                await self._leave_groups()

    async def _leave_groups(self) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.channel_layer.group_discard(case_group(self.case_id), self.channel_name)
        self.left = True

    async def websocket_disconnect(self, message):
        self.closed = True  # the client is gone: nothing more is sent (uvicorn would refuse it)
        await super().websocket_disconnect(message)

    async def _presence(self, status):
        await self.channel_layer.group_send(
            self.group,
            {
                "type": "chat.presence",
                "presence": {
                    "author": self.user.display_name,
                    "author_id": self.user.pk,
                    "role": self.user.role,
                    "status": status,
                },
                "reply_to": self.channel_name if status == "joined" else None,
            },
        )

    async def _cut_off(self):
        if self.cut:  # already (from the other loop, or another of its messages refused)
            return
        self.cut = True
        _rechecker().discard(self)
        await self.send_json({"type": "error", "error": {"code": "not_member", "message": "not a member"}})
        await self.close(code=CLOSE_NOT_MEMBER)

    async def receive_json(self, content, **kwargs):
        if self.closed:  # cut off: what still comes before the client reads the close goes nowhere
            return
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "message":
            body = content.get("body")
            if not isinstance(body, str):
                await self.send_json({"type": "error", "error": {"code": "invalid", "message": "body must be text"}})
                return
            # The service checks the membership itself, under the case's lock, and sends it to the room, in a
            # batch with what the process's other connections sent meanwhile. The connection does not wait
            # for it: the room's messages reach it meanwhile. At most UNANSWERED of its messages are in the
            # poster at once; the next frame is read once the oldest is answered.
            await self.unanswered.acquire()
            future = _poster().submit(self.user.pk, self.case_id, self.room, body)
            answer = asyncio.ensure_future(self._answer(future))
            self.answering.add(answer)
            answer.add_done_callback(self.answering.discard)
            return
        if kind == "typing" and time.monotonic() - self.last_typing < TYPING_EVERY_SECONDS:
            return  # told the room a moment ago: nothing to send, nothing to check
        if not await _is_member(self.user.pk, self.case_id, self.room):
            await self._cut_off()
            return
        if kind == "typing":
            self.last_typing = time.monotonic()
            await self.channel_layer.group_send(
                self.group,
                {
                    "type": "chat.typing",
                    "typing": {"author": self.user.display_name, "author_id": self.user.pk, "role": self.user.role},
                },
            )
        else:
            await self.send_json({"type": "error", "error": {"code": "invalid", "message": "unknown type"}})

    async def _answer(self, future: asyncio.Future) -> None:
        """Once a message of this connection is posted, tell it why if it was refused (nothing if stored: it
        hears its own message with the room)."""
        try:
            await self._tell_refusal(future)
        except OSError:  # the connection ended meanwhile (uvicorn's ClientDisconnected): no one to tell
            logger.debug("chat: could not answer a connection to %s", self.group, exc_info=True)
        except Exception:
            logger.warning("chat: could not answer a connection to %s", self.group, exc_info=True)
        finally:
            self.unanswered.release()

    async def _tell_refusal(self, future: asyncio.Future) -> None:
        try:
            result = await future
            if isinstance(result, BaseException):
                raise result
        except (Forbidden, NotFound):  # no longer a member of this room
            await self._cut_off()
        except DomainError as exc:
            await self.send_json(
                {"type": "error", "error": {"code": exc.code, "message": str(exc.message), "fields": exc.fields}}
            )
        except Exception:  # the database or Redis failed: this message is not stored; the connection stays
            logger.exception("chat: a message to %s could not be posted", self.group)
            await self.send_json({"type": "error", "error": {"code": "unavailable", "message": "not sent; try again"}})

    # --- group events ------------------------------------------------------------------------
    async def chat_message(self, event):
        """A message of the room, its frame encoded once by its sender (``services.message_event``); an
        event with the message itself (from a process of an earlier release) is encoded here."""
        if "text" in event:
            await self.send(text_data=event["text"])
        else:
            await self.send_json({"type": "message", **event["message"]})

    async def chat_typing(self, event):
        if event["typing"]["author_id"] != self.user.pk:
            await self.send_json({"type": "typing", **event["typing"]})

    async def chat_presence(self, event):
        presence = event["presence"]
        if presence["author_id"] == self.user.pk and event.get("reply_to") == self.channel_name:
            return
        await self.send_json({"type": "presence", **presence})
        if event.get("reply_to") and event["reply_to"] != self.channel_name:
            # Tell the newcomer who is already here (best effort: a newcomer whose queue is full, or who
            # left already, does not cost this member its own connection).
            try:
                await self._here(event["reply_to"])
            except Exception:  # the newcomer left already, or the layer refused: best effort
                logger.warning("chat: could not tell a newcomer to %s who is here", self.group, exc_info=True)

    async def _here(self, reply_to: str) -> None:
        await self.channel_layer.send(
            reply_to,
            {
                "type": "chat.here",
                "presence": {
                    "author": self.user.display_name,
                    "author_id": self.user.pk,
                    "role": self.user.role,
                    "status": "here",
                },
            },
        )

    async def chat_here(self, event):
        await self.send_json({"type": "presence", **event["presence"]})

    async def chat_removed(self, event):
        """The process's periodic check found this connection's user no longer belongs in the room."""
        await self._cut_off()

    async def chat_recheck(self, event):
        if self.closed:
            return
        if not await _is_member(self.user.pk, self.case_id, self.room):
            await self._cut_off()
