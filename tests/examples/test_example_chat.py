"""The chat example (examples/chat): WebSocket clients, long-poll clients, and both."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from examples.chat.app import ChatRoom, make_app

from tests.support.waiting import until


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
            assert got == [
                {"id": "1", "name": "alice", "text": "hi bob"},
                {"id": "2", "name": "bob", "text": "hi alice"},
            ]
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


# -- the long-polling fallback ---------------------------------------------------------


@contextlib.asynccontextmanager
async def _poll_client(base: str) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that loaded the page (so it holds the XSRF cookie) and sends the
    token back in ``X-XSRFToken``, as the page's script does."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        page = await client.get("/")
        assert page.status_code == 200
        client.headers["X-XSRFToken"] = client.cookies["_xsrf"]
        yield client


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    await until(predicate, timeout)


async def test_long_poll_and_websocket_clients_talk_to_each_other(serve: Any) -> None:
    room = ChatRoom()
    srv = await serve(make_app(room))
    async with (
        _poll_client(srv.base_url) as poller,
        connect(f"ws://127.0.0.1:{srv.port}/chatsocket") as ws,
    ):
        # Nothing posted yet: the poll waits for the next message.
        waiting = asyncio.ensure_future(poller.post("/a/message/updates", data={"cursor": "0"}))
        await _until(lambda: len(room.waiters) == 1)
        assert not waiting.done()
        await ws.send(json.dumps({"name": "sock", "text": "hello poller"}))
        r = await asyncio.wait_for(waiting, 5)
        assert r.status_code == 200
        assert r.json() == {"messages": [{"id": "1", "name": "sock", "text": "hello poller"}]}
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["id"] == "1"

        r = await poller.post("/a/message/new", data={"name": "poll", "text": "hello socket"})
        assert r.status_code == 200 and r.json()["id"] == "2"
        got = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert got == {"id": "2", "name": "poll", "text": "hello socket"}

        # Messages already there are answered at once, from the cursor on.
        r = await poller.post("/a/message/updates", data={"cursor": "1"})
        assert [m["text"] for m in r.json()["messages"]] == ["hello socket"]
        r = await poller.post("/a/message/updates", data={"cursor": "0"})
        assert [m["id"] for m in r.json()["messages"]] == ["1", "2"]
    assert not room.waiters


async def test_many_pollers_are_woken_by_one_message(serve: Any) -> None:
    room = ChatRoom()
    srv = await serve(make_app(room))
    async with _poll_client(srv.base_url) as client:
        polls = [
            asyncio.ensure_future(client.post("/a/message/updates", data={"cursor": "0"}))
            for _ in range(8)
        ]
        await _until(lambda: len(room.waiters) == 8)
        r = await client.post("/a/message/new", data={"name": "x", "text": "wake up"})
        assert r.status_code == 200
        for done in await asyncio.wait_for(asyncio.gather(*polls), 5):
            assert [m["text"] for m in done.json()["messages"]] == ["wake up"]
    assert not room.waiters


async def test_a_poller_that_disconnects_stops_waiting(serve: Any, caplog: Any) -> None:
    room = ChatRoom()
    srv = await serve(make_app(room))
    _reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    body = b"cursor=0"
    writer.write(
        b"POST /a/message/updates HTTP/1.1\r\nHost: x\r\n"
        b"Cookie: _xsrf=token\r\nX-XSRFToken: token\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()
    await _until(lambda: len(room.waiters) == 1)
    (waiter,) = room.waiters
    writer.close()
    await _until(lambda: waiter.cancelled())
    assert not room.waiters
    # A message after the disconnect goes nowhere, and nothing was logged as an error.
    await room.post("x", "anyone?")
    await asyncio.sleep(0.05)
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []


async def test_an_idle_poll_answers_empty_after_the_timeout(serve: Any) -> None:
    room = ChatRoom()
    srv = await serve(make_app(room, poll_timeout=0.1))
    async with _poll_client(srv.base_url) as client:
        r = await client.post("/a/message/updates", data={"cursor": "0"})
    assert (r.status_code, r.json()) == (200, {"messages": []})
    assert not room.waiters


async def test_long_poll_posts_need_the_xsrf_token_and_a_text(serve: Any) -> None:
    srv = await serve(make_app())
    async with httpx.AsyncClient(base_url=srv.base_url) as bare:
        r = await bare.post("/a/message/new", data={"name": "evil", "text": "forged"})
        assert r.status_code == 403
    async with _poll_client(srv.base_url) as client:
        r = await client.post("/a/message/new", data={"name": "x", "text": "  "})
        assert r.status_code == 400
        r = await client.post("/a/message/updates", data={"cursor": "nope"})
        assert r.status_code == 400


async def test_the_page_offers_both_transports(serve: Any) -> None:
    srv = await serve(make_app(prefix="/chat"))
    async with httpx.AsyncClient() as client:
        page = await client.get(srv.base_url + "/chat/")
    assert page.status_code == 200
    assert b"new WebSocket" in page.content and b"a/message/updates" in page.content
    assert "_xsrf" in page.cookies
    async with connect(f"ws://127.0.0.1:{srv.port}/chat/chatsocket") as ws:
        await ws.send(json.dumps({"name": "a", "text": "under a prefix"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["text"] == "under a prefix"


# -- error pages -----------------------------------------------------------------------------


def assert_chat_layout(page: str, title: str) -> None:
    assert f"<title>{title} · tornadish chat</title>" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<h1><a href="/chat/">tornadish chat</a></h1>' in page  # the page's own heading
    assert "#log{border:1px solid #ccc" in page  # and its style
    assert '<p><a href="/chat/">Back to the chat</a></p>' in page


async def test_error_pages_keep_the_chat_layout(serve: Any) -> None:
    srv = await serve(make_app(prefix="/chat"))
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        for path in ("/chat/no/such/page", "/chat/chatsocket/x"):
            r = await client.get(path)
            assert r.status_code == 404, path
            assert_chat_layout(r.text, "404: Not Found")
            assert "<p>There is no page at this address.</p>" in r.text
        # Unknown paths answer 404 to a POST too, not the XSRF check's 403.
        assert (await client.post("/chat/nope", data={"text": "x"})).status_code == 404
        # A handler's HTTPError, its reason in the heading.
        await client.get("/chat/")
        xsrf = {"X-XSRFToken": client.cookies["_xsrf"]}
        r = await client.post("/chat/a/message/updates", data={"cursor": "x"}, headers=xsrf)
        assert r.status_code == 400
        assert_chat_layout(r.text, "400: cursor must be a message id")
        assert "<h2>400: cursor must be a message id</h2>" in r.text


async def test_an_unreachable_broker_is_a_503_in_the_chat_layout(serve: Any) -> None:
    room = ChatRoom(broadcast="redis://127.0.0.1:1/0")  # nothing listens on port 1
    srv = await serve(make_app(room, prefix="/chat"))
    async with _poll_client(srv.base_url + "/chat") as client:
        r = await client.post("/a/message/updates", data={"cursor": "0"})
    assert r.status_code == 503
    assert_chat_layout(r.text, "503: chat unavailable")
    assert "The chat is unavailable at the moment; please try again soon." in r.text


async def test_debug_mode_still_shows_the_traceback(serve: Any) -> None:
    srv = await serve(make_app(prefix="/chat", debug=True, autoreload=False))
    async with _poll_client(srv.base_url + "/chat") as client:
        r = await client.post("/a/message/new", data={"name": "no text"})
        assert r.status_code == 400 and r.headers["content-type"].startswith("text/plain")
        assert "MissingArgumentError" in r.text
        # A browser gets the debug page, which opens the chat's own code at the call.
        r = await client.post(
            "/a/message/new", data={"name": "no text"}, headers={"Accept": "text/html"}
        )
        assert r.status_code == 400 and "<h1>400: Bad Request</h1>" in r.text
        assert "examples/chat/app.py, line" in r.text and "MessageNewHandler.post" in r.text
        assert "tornadish chat</a></h1>" not in r.text  # not the layout
