"""The channel layer: channels-redis's pub/sub layer, with a bounded mailbox per connection.

Pub/sub hands a process every message for its connections at once; channels-redis keeps each connection's
in an unbounded ``asyncio.Queue`` until its consumer takes them. A reader that does not read (a stalled
browser, a client that never drains its socket: uvicorn stops the consumer's sends once the socket's
buffer is full) would grow the process's memory without end, one copy of every message its rooms hear.
Here a connection's mailbox holds at most ``capacity`` messages (``ODR_CHANNEL_CAPACITY``, 1,000 by
default); once it is full, messages to it are dropped (logged when that starts and when it ends) until
its reader has worked off half of them, as channels-redis's list-based layer drops a group message to a
full channel. The chat's pages re-read a room's history every minute and on reconnecting, so a reader that
catches up again finds what it missed.
"""

import asyncio
import logging

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close

logger = logging.getLogger(__name__)

DEFAULT_CAPACITY = 1000


class Mailbox(asyncio.Queue):
    """A connection's messages: at most ``capacity``. Once full it drops (and counts) what comes until half
    is read, so a slow reader gets runs of consecutive messages, and two log lines a run, not two a message."""

    def __init__(self, channel: str, capacity: int):
        super().__init__()
        self.channel = channel
        self.capacity = capacity
        self.dropped = 0

    def put_nowait(self, item) -> None:
        if self.dropped and self.qsize() <= self.capacity // 2:
            logger.warning("channel layer: %s reads again after %s messages were dropped", self.channel, self.dropped)
            self.dropped = 0
        if self.dropped or self.qsize() >= self.capacity:
            if not self.dropped:  # once a backlog: it may go on for thousands of messages
                logger.warning(
                    "channel layer: %s is %s messages behind; dropping its messages", self.channel, self.capacity
                )
            self.dropped += 1
            return
        super().put_nowait(item)


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, capacity: int = DEFAULT_CAPACITY, **kwargs):
        super().__init__(*args, **kwargs)
        self.capacity = capacity

    async def _subscribe_to_channel(self, channel):
        self.channels[channel] = Mailbox(channel, self.capacity)
        shard = self._get_shard(channel)
        await shard.subscribe(channel)

    async def release_channel(self, channel) -> None:
        """Forget a channel whose consumer has ended: its mailbox and its subscription. channels-redis does
        this only when a ``receive`` waiting on the channel is cancelled, which a consumer that ends in the
        middle of handling an event never reaches."""
        if self.channels.pop(channel, None) is not None:
            await self._get_shard(channel).unsubscribe(channel)


class PubSubChannelLayer(RedisPubSubChannelLayer):
    """``channels_redis.pubsub.RedisPubSubChannelLayer`` whose connections' mailboxes are bounded."""

    def __init__(self, *args, capacity: int = DEFAULT_CAPACITY, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.capacity = max(int(capacity), 1)

    async def release_channel(self, channel) -> None:
        await self._get_layer().release_channel(channel)

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _LoopLayer(*self._args, capacity=self.capacity, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
