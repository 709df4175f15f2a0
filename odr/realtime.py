"""Sending to websocket groups from synchronous code (services, on-commit hooks).

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
    return outer_loop is None and type(layer).__module__.startswith("channels_redis")


def group_send(group: str, message: dict) -> None:
    """Hand ``message`` to every connection in ``group``, on every ASGI process (the channel layer)."""
    layer = get_channel_layer()
    if layer is None:
        return
    if not _on_sender_loop(layer):
        async_to_sync(layer.group_send)(group, message)
        return
    future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _sender_loop())
    future.result(timeout=SEND_TIMEOUT)


def group_send_many(sends: list[tuple[str, dict]]) -> list[BaseException | None]:
    """``group_send`` for several ``(group, message)`` at once, concurrently on the process's sending loop
    (a sweep batch's notices: one wait instead of one per notice). Returns each send's error or None."""
    layer = get_channel_layer()
    if layer is None or not sends:
        return [None] * len(sends)
    if not _on_sender_loop(layer):
        errors: list[BaseException | None] = []
        for group, message in sends:
            try:
                group_send(group, message)
                errors.append(None)
            except Exception as exc:
                errors.append(exc)
        return errors

    async def send_all():
        return await asyncio.gather(*(layer.group_send(g, m) for g, m in sends), return_exceptions=True)

    results = asyncio.run_coroutine_threadsafe(send_all(), _sender_loop()).result(timeout=SEND_TIMEOUT)
    return [r if isinstance(r, BaseException) else None for r in results]
