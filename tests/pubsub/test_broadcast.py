"""``tornadish.pubsub.Broadcast`` on both backends: the same calls, the same results.

Each test runs on ``memory://`` and on ``redis://`` (a real redis-server); the
broadcasts a test makes share their channels, as two processes on one Redis do.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from tornadish.pubsub import (
    Broadcast,
    Message,
    PubSubError,
    SlowSubscriberError,
    Subscription,
)

from tests.support.waiting import until

MakeBroadcast = Callable[..., Broadcast]


async def _take(sub: Subscription, n: int, timeout: float = 5.0) -> list[Message]:
    out: list[Message] = []

    async def read() -> None:
        async for message in sub:
            out.append(message)
            if len(out) == n:
                return

    await asyncio.wait_for(read(), timeout)
    return out


async def test_every_subscriber_gets_every_message_with_its_type(
    make_broadcast: MakeBroadcast,
) -> None:
    async with (
        make_broadcast() as one,
        make_broadcast() as other,
        one.subscribe("room") as a,
        other.subscribe("room") as b,
    ):
        sent = ["text", b"\x00bytes", {"json": [1, 2.5, None, "\u00e9"]}, [1, 2], 7, None]
        ids = [await one.publish("room", data) for data in sent[:3]]
        ids += [await other.publish("room", data) for data in sent[3:]]
        for sub in (a, b):
            got = await _take(sub, len(sent))
            assert [m.data for m in got] == sent
            assert [m.id for m in got] == ids
            assert {m.channel for m in got} == {"room"} and not any(m.gap for m in got)
    keys = [k for k in (one._backend.key(i) for i in ids) if k is not None]
    assert len(keys) == len(ids) and keys == sorted(keys) and len(set(ids)) == len(ids)


async def test_channels_are_separate_and_subscribing_starts_now(
    make_broadcast: MakeBroadcast,
) -> None:
    async with make_broadcast() as bc:
        await bc.publish("news", "before anyone listened")
        async with bc.subscribe("news") as news, bc.subscribe("sport") as sport:
            await bc.publish("sport", "goal")
            await bc.publish("news", "headline")
            assert [m.data for m in await _take(news, 1)] == ["headline"]
            assert [m.data for m in await _take(sport, 1)] == ["goal"]
            assert news.queued == sport.queued == 0


async def test_resume_after_an_id_replays_the_rest_then_goes_live_without_duplicates(
    make_broadcast: MakeBroadcast,
) -> None:
    async with make_broadcast(history=50) as publisher, make_broadcast() as reader:
        ids = [await publisher.publish("feed", f"m{i}") for i in range(30)]
        async with reader.subscribe("feed", after=ids[9]) as sub:
            # Live messages published while the replay has not been read yet.
            ids += [await publisher.publish("feed", f"m{i}") for i in range(30, 35)]
            got = await _take(sub, 25)
            assert [m.data for m in got] == [f"m{i}" for i in range(10, 35)]
            assert [m.id for m in got] == ids[10:]
            await publisher.publish("feed", "m35")
            assert [m.data for m in await _take(sub, 1)] == ["m35"]
            assert sub.queued == 0


async def test_a_replay_longer_than_a_page_and_the_queue_loses_nothing(
    make_broadcast: MakeBroadcast,
) -> None:
    # The queue bound applies to live messages only; the history is read a page
    # (100) at a time while they wait.
    async with make_broadcast(history=500, max_queue=10) as bc:
        first = await bc.publish("feed", 0)
        for i in range(1, 260):
            await bc.publish("feed", i)
        async with bc.subscribe("feed", after=first) as sub:
            for i in range(260, 265):
                await bc.publish("feed", i)
            got = await _take(sub, 264)
    assert [m.data for m in got] == list(range(1, 265))


async def test_resume_with_an_id_no_longer_kept_starts_at_the_oldest_after_a_gap(
    make_broadcast: MakeBroadcast,
) -> None:
    async with make_broadcast(history=5) as bc:
        ids = [await bc.publish("feed", i) for i in range(12)]
        for after in (ids[2], "not-an-id", "999999999999999-0"):
            async with bc.subscribe("feed", after=after) as sub:
                got = await _take(sub, 6)
                assert got[0].gap == "trimmed" and got[0].id is None
                assert [m.data for m in got[1:]] == [7, 8, 9, 10, 11]
        async with bc.subscribe("feed", after=ids[-1]) as sub:  # up to date: nothing
            await bc.publish("feed", "new")
            assert [m.data for m in await _take(sub, 1)] == ["new"]


async def test_after_zero_replays_everything_kept_without_a_gap(
    make_broadcast: MakeBroadcast,
) -> None:
    async with make_broadcast(history=3) as bc:
        for i in range(5):
            await bc.publish("feed", i)
        async with bc.subscribe("feed", after="0") as sub:
            assert [(m.data, m.gap) for m in await _take(sub, 3)] == [
                (2, None),
                (3, None),
                (4, None),
            ]


async def test_history_zero_is_pure_pub_sub(make_broadcast: MakeBroadcast) -> None:
    async with make_broadcast(history=0) as bc:
        first = await bc.publish("feed", "gone")
        async with bc.subscribe("feed", after=first) as sub:
            await bc.publish("feed", "live")
            got = await _take(sub, 2)
    assert [(m.gap, m.data) for m in got] == [("trimmed", None), (None, "live")]


async def test_a_subscriber_that_never_reads_stays_within_its_bound(
    make_broadcast: MakeBroadcast,
) -> None:
    payload = "x" * 1024
    async with (
        make_broadcast(history=10) as bc,
        make_broadcast() as publisher,
        bc.subscribe("feed", max_queue=100) as sub,
    ):
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(3000):
                await publisher.publish("feed", payload)
            await until(lambda: sub.dropped >= 2900, timeout=20)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert sub.queued <= 101
        # 3 MiB went through; at most ~100 KiB of messages may stay (plus slack
        # for the client's buffers).
        assert grown < 1024 * 1024, grown
        got = await _take(sub, sub.queued)
    assert got[0].gap == "overflow"
    assert [m.data for m in got[1:]] == [payload] * 100
    assert sub.dropped == 2900


async def test_overflow_close_drops_the_slow_subscriber_only(
    make_broadcast: MakeBroadcast,
) -> None:
    async with (
        make_broadcast() as bc,
        bc.subscribe("feed", max_queue=5, overflow="close") as slow,
        bc.subscribe("feed") as fast,
    ):
        for i in range(8):
            await bc.publish("feed", i)
        assert [m.data for m in await _take(fast, 8)] == list(range(8))
        with pytest.raises(SlowSubscriberError):
            await _take(slow, 1)
        assert slow.queued == 0


async def test_disconnect_ends_every_subscription(make_broadcast: MakeBroadcast) -> None:
    bc = make_broadcast()
    await bc.connect()
    async with bc.subscribe("feed") as sub:
        reading = asyncio.ensure_future(_take(sub, 1))
        await asyncio.sleep(0.05)
        await bc.disconnect()
        assert await asyncio.wait_for(reading, 5) == []
    assert not bc.connected
    with pytest.raises(PubSubError, match="not connected"):
        await bc.publish("feed", "late")


async def test_a_subscriber_cancelled_while_subscribing_leaves_nothing_behind(
    make_broadcast: MakeBroadcast,
) -> None:
    async with make_broadcast() as bc:

        async def subscribe_forever() -> None:
            async with bc.subscribe("feed") as sub:
                async for _ in sub:
                    pass

        tasks = [asyncio.ensure_future(subscribe_forever()) for _ in range(5)]
        await asyncio.sleep(0)  # some are still subscribing
        tasks[0].cancel()
        await asyncio.sleep(0.2)
        for task in tasks[1:]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await until(lambda: not _subscribers(bc))


def _subscribers(bc: Broadcast) -> list[Any]:
    return [q for ch in bc._backend._channels.values() for q in ch.queues]  # type: ignore[attr-defined]


async def test_data_json_cannot_carry_is_refused_at_publish(
    make_broadcast: MakeBroadcast,
) -> None:
    async with make_broadcast() as bc:
        with pytest.raises(TypeError, match="JSON"):
            await bc.publish("feed", {"when": object()})
        with pytest.raises(TypeError):
            await bc.publish("feed", float("nan"))
        with pytest.raises(ValueError, match="channel"):
            await bc.publish("", "x")


def test_bad_urls_and_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported broadcast URL"):
        Broadcast("kafka://somewhere")
    with pytest.raises(ValueError, match="overflow"):
        Broadcast("memory://", overflow="block")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_queue"):
        Broadcast("memory://", max_queue=0)
    assert "secret" not in repr(Broadcast("redis://:secret@localhost:6379/0"))
