"""The ``redis://`` backend when Redis fails: a restart in the middle of a test, a
killed connection, a server that hangs, a server that is not there — each on a real
redis-server of the test's own."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from tornadish.pubsub import Broadcast, Message, PublishError, PubSubError, Subscription

from tests.support.redis_server import RedisServer
from tests.support.waiting import until


class Collector:
    """Reads a subscription in a task of its own, keeping what arrives."""

    def __init__(self, sub: Subscription) -> None:
        self.messages: list[Message] = []
        self.task = asyncio.ensure_future(self._read(sub))

    async def _read(self, sub: Subscription) -> None:
        async for message in sub:
            self.messages.append(message)

    @property
    def data(self) -> list[Any]:
        return [m.data for m in self.messages if m.gap is None]

    @property
    def gaps(self) -> list[str]:
        return [m.gap for m in self.messages if m.gap is not None]


async def _publish_when_up(bc: Broadcast, channel: str, data: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await bc.publish(channel, data)
            return
        except PublishError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


@pytest.mark.timeout_async(40)
async def test_a_redis_restart_mid_stream(own_redis: RedisServer, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="tornadish.general")
    async with (
        Broadcast(own_redis.url) as one,
        Broadcast(own_redis.url) as two,
        one.subscribe("room") as a,
        two.subscribe("room") as b,
    ):
        ca, cb = Collector(a), Collector(b)
        first = await one.publish("room", "before")
        await until(lambda: ca.data == cb.data == ["before"])

        own_redis.stop()
        with pytest.raises(PublishError, match=f"Redis at {own_redis.url} is unreachable"):
            await one.publish("room", "while down")
        await until(lambda: "lost Redis" in caplog.text)

        own_redis.start()
        restarted = time.monotonic()
        await _publish_when_up(two, "room", "after", timeout=5)
        await until(lambda: ca.data[-1:] == cb.data[-1:] == ["after"], timeout=5)
        assert time.monotonic() - restarted < 5  # flowing again within 5 s

        # The restarted Redis lost its Streams: each subscriber was told, once,
        # at the place of the loss.
        for c in (ca, cb):
            assert [m.gap or m.data for m in c.messages] == ["before", "reconnect", "after"]
        # A client resuming from before the restart is told too.
        async with one.subscribe("room", after=first) as late:
            got = [await late.__anext__(), await late.__anext__()]
        assert [(m.gap, m.data) for m in got] == [("trimmed", None), (None, "after")]
        ca.task.cancel()
        cb.task.cancel()
    assert "reconnected to Redis" in caplog.text


@pytest.mark.timeout_async(30)
async def test_a_dropped_connection_is_caught_up_from_the_stream_without_a_gap(
    own_redis: RedisServer, caplog: Any
) -> None:
    caplog.set_level(logging.INFO, logger="tornadish.general")
    import redis.asyncio as aioredis

    admin = aioredis.Redis.from_url(own_redis.url)
    async with (
        Broadcast(own_redis.url) as listening,
        Broadcast(own_redis.url) as talking,
        listening.subscribe("feed") as sub,
    ):
        c = Collector(sub)
        await talking.publish("feed", -1)
        await until(lambda: c.data == [-1])
        # Redis stays up; only the subscribing connection goes. What is published
        # before the broadcast has subscribed again is found in the Stream.
        killed = await admin.client_kill_filter(_type="pubsub")
        assert killed == 1
        for i in range(50):
            await talking.publish("feed", i)
        await until(lambda: len(c.data) == 51, timeout=10)
        assert c.data == [-1, *range(50)]  # all, in order, once
        assert c.gaps == []
        c.task.cancel()
    await admin.aclose()
    assert "reconnected to Redis" in caplog.text


@pytest.mark.timeout_async(30)
async def test_a_server_that_stops_answering_is_noticed_by_the_ping(
    own_redis: RedisServer, caplog: Any
) -> None:
    async with Broadcast(own_redis.url, ping_interval=0.2) as bc, bc.subscribe("feed") as sub:
        c = Collector(sub)
        await bc.publish("feed", "before")
        await until(lambda: c.data == ["before"])
        own_redis.freeze()
        try:
            await until(lambda: "did not answer a PING" in caplog.text, timeout=5)
        finally:
            own_redis.thaw()
        await _publish_when_up(bc, "feed", "after", timeout=5)
        await until(lambda: c.data == ["before", "after"], timeout=10)
        assert c.gaps == []  # the Stream was kept: nothing was lost
        c.task.cancel()


@pytest.mark.timeout_async(30)
async def test_subscribing_while_redis_is_down_waits_for_it(own_redis: RedisServer) -> None:
    async with Broadcast(own_redis.url) as bc:
        own_redis.stop()
        entering = asyncio.ensure_future(bc.subscribe("feed").__aenter__())
        await asyncio.sleep(0.5)
        assert not entering.done()
        own_redis.start()
        sub = await asyncio.wait_for(entering, 10)
        try:
            await _publish_when_up(bc, "feed", "hello", timeout=5)
            got = await asyncio.wait_for(sub.__anext__(), 5)
            assert (got.gap, got.data) == (None, "hello")
        finally:
            await sub.__aexit__(None, None, None)


async def test_connecting_to_no_redis_says_so() -> None:
    from tests.support.seed_services import free_port

    pytest.importorskip("redis")
    url = f"redis://127.0.0.1:{free_port()}/0"
    bc = Broadcast(url, connect_timeout=1)
    with pytest.raises(PubSubError, match=f"cannot reach Redis at {url}"):
        await bc.connect()
    assert not bc.connected


@pytest.mark.timeout_async(20)
async def test_prefixes_separate_applications_and_foreign_messages_arrive_raw(
    own_redis: RedisServer,
) -> None:
    import redis.asyncio as aioredis

    async with (
        Broadcast(own_redis.url, prefix="app1:") as app1,
        Broadcast(own_redis.url, prefix="app2:") as app2,
        app1.subscribe("chat") as one,
        app2.subscribe("chat") as two,
    ):
        await app2.publish("chat", "for app2")
        admin = aioredis.Redis.from_url(own_redis.url)
        await admin.publish("app1:chat", b"from another program")
        await admin.aclose()
        await app1.publish("chat", "for app1")
        first, second = await one.__anext__(), await one.__anext__()
        assert (first.data, first.id) == (b"from another program", None)
        assert second.data == "for app1"
        assert (await two.__anext__()).data == "for app2"
        assert one.queued == two.queued == 0
