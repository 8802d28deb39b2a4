"""The chat example (examples/chat), driven by two ``websockets`` clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from examples.chat.app import ChatRoom, make_app


async def test_messages_fan_out_to_every_client(serve: Any) -> None:
    room = ChatRoom()
    srv = await serve(make_app(room))
    url = f"ws://127.0.0.1:{srv.port}/chatsocket"
    async with httpx.AsyncClient() as client:
        page = await client.get(f"http://127.0.0.1:{srv.port}/")
    assert b"new WebSocket" in page.content
    async with connect(url) as alice, connect(url) as bob:
        while len(room.members) < 2:
            await asyncio.sleep(0.005)
        await alice.send(json.dumps({"name": "alice", "text": "hi bob"}))
        await bob.send(json.dumps({"name": "bob", "text": "hi alice"}))
        for ws in (alice, bob):
            got = [json.loads(await asyncio.wait_for(ws.recv(), 2)) for _ in range(2)]
            assert got == [{"name": "alice", "text": "hi bob"}, {"name": "bob", "text": "hi alice"}]
        async with connect(url) as carol:  # late joiners get the history
            assert json.loads(await asyncio.wait_for(carol.recv(), 2))["text"] == "hi bob"
    while room.members:
        await asyncio.sleep(0.005)


async def test_slow_clients_are_closed_under_the_close_policy(serve: Any) -> None:
    # A negative bound makes every client "slow": the policy itself is what is tested.
    room = ChatRoom(max_buffer=-1, policy="close")
    srv = await serve(make_app(room))
    url = f"ws://127.0.0.1:{srv.port}/chatsocket"
    async with connect(url) as alice, connect(url) as bob:
        while len(room.members) < 2:
            await asyncio.sleep(0.005)
        await alice.send(json.dumps({"name": "alice", "text": "anyone?"}))
        for ws in (alice, bob):
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 2)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1013


async def test_slow_clients_miss_messages_under_the_drop_policy(serve: Any) -> None:
    room = ChatRoom(max_buffer=-1, policy="drop")
    srv = await serve(make_app(room))
    async with connect(f"ws://127.0.0.1:{srv.port}/chatsocket") as alice:
        while not room.members:
            await asyncio.sleep(0.005)
        await alice.send(json.dumps({"name": "alice", "text": "lost"}))
        while not room.dropped:
            await asyncio.sleep(0.005)
        assert room.dropped == 1


async def test_bad_json_closes_1003(serve: Any) -> None:
    srv = await serve(make_app())
    async with connect(f"ws://127.0.0.1:{srv.port}/chatsocket") as ws:
        await ws.send("not json")
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 2)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1003
