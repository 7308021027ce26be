"""The Redis channel layer of deployment mode: channels_redis' pub/sub layer, told to its
consumers when it lost Redis and got it back.

Why pub/sub: channels_redis' core layer turns a group_send into one Redis list per member
channel, so an event to a job watched by 128 browsers was 128 Redis messages for the server
processes to pop and decode. Over pub/sub it is one message per server process, fanned out
to the process's consumers in memory.

What is added to channels_redis' `RedisPubSubChannelLayer`:
- when the subscriber connection of a process comes back after losing Redis (a restart, a
  network cut, or Redis dropping a subscriber that fell behind), redis-py subscribes again and
  every consumer of the process gets `{"type": "layer.reconnected"}`: what was published
  meanwhile is gone, so the consumer sends its state from the database again;
- a command that fails on a connection Redis closed is tried once more on a new one;
- the receiving task logs an outage once (not a traceback a second) and keeps retrying on
  every error, a connection timeout included (channels_redis re-raises asyncio's, which ended
  the task and with it every delivery to the process).
"""

import asyncio
import logging

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close, create_pool, decode_hosts
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

logger = logging.getLogger(__name__)

RECONNECTED = {"type": "layer.reconnected"}
# Seconds between attempts to read again after the subscriber connection failed.
RETRY_INTERVAL = 1.0


class _ResubscribingPubSub(PubSub):
    """redis-py's PubSub, which subscribes again on every reconnection, and then says so."""

    def __init__(self, *args, on_resubscribed, **kwargs):
        super().__init__(*args, **kwargs)
        self._on_resubscribed = on_resubscribed

    async def on_connect(self, connection) -> None:
        # Called on each reconnection of the subscriber connection (the first connection is
        # made before anything is subscribed): subscriptions to restore mean a reconnection.
        restoring = bool(self.channels or self.patterns or self.shard_channels)
        await super().on_connect(connection)
        if restoring:
            self._on_resubscribed()


class _Shard(RedisSingleShardConnection):
    def _ensure_redis(self) -> None:
        if self._redis is None:
            # A command on a connection that Redis closed (it restarted) is tried once more on
            # a new one: the first event after a restart is not lost on a stale connection.
            retry = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
            pool = create_pool({"retry": retry, **self.host})
            self._redis = Redis(connection_pool=pool)
            self._pubsub = _ResubscribingPubSub(pool, on_resubscribed=self._resubscribed)

    def _resubscribed(self) -> None:
        layer = self.channel_layer
        logger.warning(
            "channel layer: subscribed to Redis again; %d consumers resync", len(layer.channels)
        )
        data = layer.channel_layer.serialize(RECONNECTED)
        for queue in layer.channels.values():
            queue.put_nowait(data)

    async def _do_receiving(self) -> None:
        failing = False
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=0.1
                    )
                    if failing:
                        logger.warning("channel layer: reading from Redis again")
                        failing = False
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:
                if not failing:
                    logger.warning(
                        "channel layer: lost Redis (%s: %s); retrying every %g s",
                        type(exc).__name__,
                        exc,
                        RETRY_INTERVAL,
                    )
                    failing = True
                await asyncio.sleep(RETRY_INTERVAL)


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, hosts=None, **kwargs):
        super().__init__(hosts, **kwargs)
        self._shards = [_Shard(host, self) for host in decode_hosts(hosts)]


class RedisPubSubLayer(RedisPubSubChannelLayer):
    """`channels_redis.pubsub.RedisPubSubChannelLayer` with the additions above; same CONFIG."""

    def _get_layer(self) -> _LoopLayer:
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
