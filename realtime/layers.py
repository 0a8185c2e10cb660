"""The channel layer between processes: channels_redis's pub/sub layer, which rings a group
with one PUBLISH (the list-based `RedisChannelLayer` spends several commands and milliseconds
per group_send, channels_redis issue 83). Pub/sub keeps nothing: a message published while a
process's subscription is down is lost. That is fine for a doorbell — the stored stream is the
letter — as long as the sockets learn that they may have missed some. So when the connection
comes back after a break, every socket of the process gets {"type": "stream.resume"} and reads
its gap from the database (realtime.consumers.StreamConsumer.stream_resume).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close

logger = logging.getLogger(__name__)

RESUME = {"type": "stream.resume"}


class _Shard(RedisSingleShardConnection):
    async def _do_receiving(self) -> None:
        # channels_redis's loop, plus: the first read that succeeds after a failure (redis-py
        # has reconnected and subscribed again) tells every local channel to resume.
        broken = False
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=0.1
                    )
                    if broken:
                        broken = False
                        self._resume_all()
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, asyncio.TimeoutError, GeneratorExit):
                raise
            except BaseException:
                if not broken:
                    logger.warning("channel layer connection lost; reconnecting", exc_info=True)
                broken = True
                await asyncio.sleep(1)

    def _resume_all(self) -> None:
        layer = self.channel_layer
        data = layer.channel_layer.serialize(RESUME)
        for queue in layer.channels.values():
            queue.put_nowait(data)
        logger.info("channel layer back; %d socket(s) told to resume", len(layer.channels))


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shards: list[Any] = getattr(self, "_shards")  # noqa: B009  (untyped library attribute)
        self._shards = [_Shard(shard.host, self) for shard in shards]


class ResumingPubSubChannelLayer(RedisPubSubChannelLayer):
    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer
