"""The chat example across processes: two server processes (and a process with two
workers) sharing one real redis-server deliver each other's messages, to WebSocket and
long-poll clients alike (examples/chat with ``--broadcast=redis://...``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.support.redis_server import RedisServer, redis_server
from tests.support.running import Running, run_example
from tests.support.servers import free_port


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    yield from redis_server()


@contextlib.contextmanager
def chat_servers(url: str, count: int, *extra: str) -> Iterator[list[tuple[Running, int]]]:
    servers = []
    try:
        for _ in range(count):
            port = free_port()
            args = ["-m", "examples.chat", f"--port={port}", f"--broadcast={url}", *extra]
            servers.append((run_example(args, port), port))
        for server, _ in servers:
            server.wait_ready()
        yield servers
    finally:
        for server, _ in servers:
            _out, err = server.stop()
            assert "Traceback" not in err, err


async def _recv(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return message


@contextlib.asynccontextmanager
async def _poller(base: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base, timeout=15) as client:
        await client.get("/")
        client.headers["X-XSRFToken"] = client.cookies["_xsrf"]
        yield client


@pytest.mark.timeout_async(60)
@pytest.mark.timeout(90)
async def test_two_server_processes_on_one_redis_deliver_each_others_messages(
    redis: RedisServer,
) -> None:
    with chat_servers(redis.url, 2) as [(_, port_a), (_, port_b)]:
        async with (
            connect(f"ws://127.0.0.1:{port_a}/chatsocket") as on_a,
            connect(f"ws://127.0.0.1:{port_b}/chatsocket") as on_b,
            _poller(f"http://127.0.0.1:{port_b}") as poller_b,
        ):
            await asyncio.sleep(0.3)  # both sockets opened (subscribed at the handshake)
            await on_a.send(json.dumps({"name": "ann", "text": "from A"}))
            await on_b.send(json.dumps({"name": "bob", "text": "from B"}))
            r = await poller_b.post("/a/message/new", data={"name": "pat", "text": "poll B"})
            assert r.status_code == 200
            for ws in (on_a, on_b):
                got = [await _recv(ws) for _ in range(3)]
                assert sorted(m["text"] for m in got) == ["from A", "from B", "poll B"]
            ids = [m["id"] for m in got]  # Redis Stream ids, the same in every process
            assert all("-" in i for i in ids)

            # A long-poll cursor from one process is valid in the other.
            r = await poller_b.post("/a/message/updates", data={"cursor": ids[0]})
            assert [m["id"] for m in r.json()["messages"]] == ids[1:]
            waiting = asyncio.ensure_future(
                poller_b.post("/a/message/updates", data={"cursor": ids[-1]})
            )
            await asyncio.sleep(0.2)
            assert not waiting.done()
            await on_a.send(json.dumps({"name": "ann", "text": "wake B's poller"}))
            r = await asyncio.wait_for(waiting, 10)
            assert [m["text"] for m in r.json()["messages"]] == ["wake B's poller"]

        # A process started later shows a late joiner the history said elsewhere.
        with chat_servers(redis.url, 1) as [(_, port_c)]:
            async with connect(f"ws://127.0.0.1:{port_c}/chatsocket") as on_c:
                history = [(await _recv(on_c))["text"] for _ in range(4)]
        assert sorted(history) == sorted(["from A", "from B", "poll B", "wake B's poller"])


@pytest.mark.timeout_async(60)
@pytest.mark.timeout(90)
async def test_the_chat_with_two_workers_on_redis(redis: RedisServer) -> None:
    # Whichever worker each connection lands on, every client gets every message.
    with chat_servers(redis.url, 1, "--workers=2") as [(_, port)]:
        url = f"ws://127.0.0.1:{port}/chatsocket"
        async with contextlib.AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(connect(url)) for _ in range(6)]
            await asyncio.sleep(0.3)
            for i, ws in enumerate(clients):
                await ws.send(json.dumps({"name": f"c{i}", "text": f"hello {i}"}))
            for ws in clients:
                got = sorted([(await _recv(ws))["text"] for _ in range(6)])
                assert got == [f"hello {i}" for i in range(6)]
