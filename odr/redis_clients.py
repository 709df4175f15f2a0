"""Plain (synchronous) Redis clients for the platform's own round trips: the chat's rate counters and the
pub/sub layer's PUBLISH (odr/realtime.py). One client a URL a process; redis-py's pool is thread-safe and
starts afresh in a forked child.

They never retry: redis-py 8 would otherwise re-send a whole pipeline after a timeout (a PUBLISH or an INCR
twice) and keep a caller waiting for up to a minute while it holds case locks. A call fails within
``SOCKET_TIMEOUT`` instead, and its caller decides.
"""

import threading

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

SOCKET_TIMEOUT = 2.0

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def client(url: str) -> redis.Redis:
    with _lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(
                url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT, retry=Retry(NoBackoff(), 0)
            )
        return _clients[url]
