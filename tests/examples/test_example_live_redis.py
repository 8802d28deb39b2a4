"""The demo's live page across processes (issue 18): two demo processes sharing one
real redis-server (``TORNADISH_BROADCAST=redis://...``). An event happening in one
process reaches a browser's event stream in the other, once, with the Redis Stream's
id; and a browser that comes back to the *other* process with that ``Last-Event-ID``
resumes right after it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.examples.test_example_live import publish, say
from tests.support.eventstream import EventStreamClient
from tests.support.redis_server import RedisServer, redis_server
from tests.support.running import Running, run_example
from tests.support.servers import free_port


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    yield from redis_server()


@contextlib.contextmanager
def demos(url: str, data: Path, count: int) -> Iterator[list[int]]:
    servers: list[Running] = []
    ports = []
    try:
        for i in range(count):
            port = free_port()
            args = ["-m", "examples.demo", f"--port={port}", f"--data={data / str(i)}"]
            servers.append(run_example(args, port, env={"TORNADISH_BROADCAST": url}))
            ports.append(port)
        for server in servers:
            server.wait_ready()
        yield ports
    finally:
        for server in servers:
            _out, err = server.stop()
            assert "Traceback" not in err, err


@pytest.mark.timeout_async(90)
@pytest.mark.timeout(120)
async def test_the_live_stream_resumes_in_another_process(
    redis: RedisServer, tmp_path: Path
) -> None:
    with demos(redis.url, tmp_path, 2) as [port_a, port_b]:
        on_b = await EventStreamClient.open(port_b, "/live/events")
        try:
            await on_b.read_until(lambda p: bool(p.retry))
            await say(port_a, "from A")  # happens in A...
            path = await publish(f"http://127.0.0.1:{port_a}", "Posted on A")
            # ... and is seen in B, each event once, with the Stream's ids.
            parsed = await on_b.read_until(lambda p: len(p.events) >= 2, timeout=20)
            with contextlib.suppress(asyncio.TimeoutError):
                await on_b.read_chunk(timeout=0.5)  # nothing more: no duplicate
            parsed = await on_b.read_until(lambda p: True)
        finally:
            on_b.close()
        chat, post = parsed.events
        assert (chat.type, json.loads(chat.data)) == ("chat", {"name": "demo", "text": "from A"})
        assert post.type == "post" and json.loads(post.data)["url"] == path
        assert len(parsed.events) == 2, parsed.events
        assert "-" in chat.last_event_id and "-" in post.last_event_id  # Redis Stream ids

        # Back in A with B's id: the stream resumes right after it.
        on_a = await EventStreamClient.open(
            port_a, "/live/events", {"Last-Event-ID": chat.last_event_id}
        )
        try:
            resumed = await on_a.read_until(lambda p: len(p.events) >= 1, timeout=10)
            assert [e.last_event_id for e in resumed.events] == [post.last_event_id]
            await say(port_b, "from B")
            resumed = await on_a.read_until(lambda p: len(p.events) >= 2, timeout=10)
            assert json.loads(resumed.events[1].data) == {"name": "demo", "text": "from B"}
        finally:
            on_a.close()
