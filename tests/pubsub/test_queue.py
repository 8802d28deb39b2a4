"""One subscriber's bounded queue (tornadish/_pubsub/queue.py), without a backend."""

from __future__ import annotations

import asyncio

import pytest

from tornadish._pubsub.queue import Entry, SubscriberQueue
from tornadish.pubsub import Message, SlowSubscriberError


def _message(n: int) -> tuple[tuple[int, int], Message]:
    return (n, 0), Message("c", n, str(n))


async def _drain(queue: SubscriberQueue) -> list[Entry]:
    out: list[Entry] = []
    while len(queue):
        entry = await queue.get()
        assert entry is not None
        out.append(entry)
    return out


async def test_drop_oldest_keeps_the_newest_behind_one_merged_gap_marker() -> None:
    queue = SubscriberQueue("c", 3, "drop_oldest")
    for n in range(1, 11):
        assert queue.put(*_message(n))
        assert len(queue) <= 4  # the bound, plus one marker
    entries = await _drain(queue)
    (gap_key, gap), *rest = entries
    assert gap.gap == "overflow" and gap.id is None and gap.data is None
    assert gap_key == (7, 0)  # the newest message dropped
    assert [m.data for _, m in rest] == [8, 9, 10]
    assert queue.dropped == 7


async def test_a_later_overflow_after_reading_the_marker_gets_a_new_one() -> None:
    queue = SubscriberQueue("c", 2, "drop_oldest")
    for n in range(1, 4):
        queue.put(*_message(n))
    assert [m.gap or m.data for _, m in await _drain(queue)] == ["overflow", 2, 3]
    for n in range(4, 8):
        queue.put(*_message(n))
    assert [m.gap or m.data for _, m in await _drain(queue)] == ["overflow", 6, 7]


async def test_a_reconnect_marker_dropped_by_overflow_leaves_the_extent_unknown() -> None:
    queue = SubscriberQueue("c", 2, "drop_oldest")
    queue.put(*_message(1))
    queue.put_gap("reconnect")
    queue.put(*_message(2))
    queue.put(*_message(3))  # drops 1
    queue.put(*_message(4))  # drops the reconnect marker: merged into the front one
    entries = await _drain(queue)
    assert [(k, m.gap or m.data) for k, m in entries] == [
        (None, "overflow"),
        ((3, 0), 3),
        ((4, 0), 4),
    ]


async def test_close_policy_frees_the_queue_and_the_next_read_raises() -> None:
    queue = SubscriberQueue("c", 2, "close")
    assert queue.put(*_message(1)) and queue.put(*_message(2))
    assert not queue.put(*_message(3))  # the backend forgets it
    assert len(queue) == 0 and queue.closed
    assert queue.dropped == 3
    with pytest.raises(SlowSubscriberError, match="fell 2 messages behind"):
        await queue.get()
    assert not queue.put(*_message(4))


async def test_get_waits_for_a_put_and_ends_after_close() -> None:
    queue = SubscriberQueue("c", 5, "drop_oldest")
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    queue.put(*_message(1))
    entry = await asyncio.wait_for(waiting, 1)
    assert entry is not None and entry[1].data == 1
    queue.put(*_message(2))
    queue.close()
    entry = await queue.get()
    assert entry is not None and entry[1].data == 2  # what was queued is still read
    assert await queue.get() is None


async def test_one_reader_at_a_time() -> None:
    queue = SubscriberQueue("c", 5, "drop_oldest")
    first = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="one task at a time"):
        await queue.get()
    first.cancel()


@pytest.mark.parametrize(("size", "policy"), [(0, "drop_oldest"), (3, "drop_newest")])
def test_bad_settings_are_refused(size: int, policy: str) -> None:
    with pytest.raises(ValueError):
        SubscriberQueue("c", size, policy)  # type: ignore[arg-type]
