"""Sending to websocket groups from synchronous code (services, on-commit hooks).

On the Redis pub/sub layer (the deployment's, odr/settings.py), a send is a PUBLISH from the calling
thread on a plain Redis client (several sends: one pipeline, one round trip), no event loop involved.
On other layers:
``async_to_sync`` from a thread with no event loop (a Celery worker, the deadline sweep, a WSGI view)
starts a new loop in a new thread on every call, and the Redis channel layer opens new connections for
every new loop: a few milliseconds and a connection per notice. There, one event loop per process runs in
a daemon thread for these sends, and the channel layer's connections stay open in it. Code that runs
under an event loop already (sync code called from an ASGI consumer or view through ``sync_to_async``)
hands the send to that loop as before, and so does the in-memory layer (one process, its queues bound to
their loop). The caller waits for the send to finish either way (errors reach it as before).
"""

import asyncio
import os
import threading

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_owner_pid: int | None = None
#: How long a caller waits for the channel layer before giving up (the row is the record either way).
SEND_TIMEOUT = 10.0


def _sender_loop() -> asyncio.AbstractEventLoop:
    """The process's sending loop, started on first use (and again in a forked child)."""
    global _loop, _owner_pid
    with _lock:
        if _loop is None or _owner_pid != os.getpid() or not _loop.is_running():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def serve():
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=serve, name="odr-realtime", daemon=True).start()
            ready.wait()
            _loop, _owner_pid = loop, os.getpid()
        return _loop


def _on_sender_loop(layer) -> bool:
    """Whether to send on the process's sending loop: a Redis layer, called from no event loop of this
    process (otherwise the caller's loop, or the in-memory layer's, takes the send)."""
    outer_loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        outer_loop = None
    return outer_loop is None and isinstance(layer, RedisPubSubChannelLayer | RedisChannelLayer)


def group_send(group: str, message: dict) -> None:
    """Hand ``message`` to every connection in ``group``, on every ASGI process (the channel layer)."""
    layer = get_channel_layer()
    if layer is None:
        return
    if (publisher := _publisher(layer)) is not None:
        error = _publish_many(layer, publisher, [(group, message)])[0]
        if error is not None:
            raise error
        return
    if not _on_sender_loop(layer):
        async_to_sync(layer.group_send)(group, message)
        return
    future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _sender_loop())
    future.result(timeout=SEND_TIMEOUT)


def group_send_many(sends: list[tuple[str, dict]]) -> list[BaseException | None]:
    """``group_send`` for several ``(group, message)`` at once, in one wait, a group's in the order given (a
    sweep batch's notices, one user's in the order they were made; a chat batch's messages, a room's in
    the order of their ids). On the Redis pub/sub layer, one round trip from the calling thread (a
    pipeline of PUBLISH); elsewhere concurrently across groups on an event loop. Returns each send's error
    or None; never raises."""
    try:
        return _group_send_many(sends)
    except Exception as exc:  # noqa: BLE001 -- never raises: every send's error, for the caller to log
        return [exc] * len(sends)


def _group_send_many(sends: list[tuple[str, dict]]) -> list[BaseException | None]:
    layer = get_channel_layer()
    if layer is None or not sends:
        return [None] * len(sends)
    if (publisher := _publisher(layer)) is not None:
        return _publish_many(layer, publisher, sends)

    async def send_all():
        errors: list[BaseException | None] = [None] * len(sends)
        by_group: dict[str, list[int]] = {}
        for index, (group, _message) in enumerate(sends):
            by_group.setdefault(group, []).append(index)

        async def in_order(indices):
            for index in indices:
                try:
                    await layer.group_send(*sends[index])
                except Exception as exc:  # noqa: BLE001 -- returned to the caller, which logs it
                    errors[index] = exc

        await asyncio.gather(*(in_order(indices) for indices in by_group.values()))
        return errors

    if not _on_sender_loop(layer):
        return async_to_sync(send_all)()
    return asyncio.run_coroutine_threadsafe(send_all(), _sender_loop()).result(timeout=SEND_TIMEOUT)


def _publisher(layer):
    """A synchronous Redis client for the pub/sub layer's one host (None for any other layer or several
    hosts, whose groups are sharded)."""
    if not isinstance(layer, RedisPubSubChannelLayer):
        return None
    config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
    hosts = config.get("hosts") or []
    if len(hosts) != 1 or not isinstance(hosts[0], dict) or "address" not in hosts[0]:
        return None
    from .redis_clients import client

    return client(hosts[0]["address"])


def _publish_many(layer, publisher, sends) -> list[BaseException | None]:
    """What the pub/sub layer's ``group_send`` does (PUBLISH the serialised message on the group's Redis
    channel, ``<prefix>__group__<group>``, as channels_redis.pubsub names it), for every send in one
    pipeline: no event loop, and the ASGI process's own loop is not asked to wait in line for it."""
    prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "asgi")
    pipe = publisher.pipeline(transaction=False)
    for group, message in sends:
        pipe.publish(f"{prefix}__group__{group}", layer.serialize(message))
    try:
        pipe.execute()
    except Exception as exc:  # noqa: BLE001 -- every send failed; returned to the caller, which logs it
        return [exc] * len(sends)
    return [None] * len(sends)
