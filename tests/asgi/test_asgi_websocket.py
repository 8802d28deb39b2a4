"""WebSockets across ASGI, over real sockets with the ``websockets`` client: a
WebSocketHandler answers the same under uvicorn as under tornadish's own server; a
Starlette WebSocket endpoint mounted with ASGIHandler works under both servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import tornadish
from tornadish.asgi import ASGIHandler
from tornadish.web import Application, RequestHandler
from tornadish.websocket import WebSocketHandler

from tests.support.servers import free_port

uvicorn = pytest.importorskip("uvicorn")
websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402


@asynccontextmanager
async def uvicorn_serving(asgi_app: Any, ws: str) -> AsyncIterator[int]:
    """Run ``asgi_app`` under a real uvicorn server (WebSocket implementation ``ws``)."""
    port = free_port()
    config = uvicorn.Config(
        asgi_app, host="127.0.0.1", port=port, loop="none", ws=ws, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn exited"
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@asynccontextmanager
async def serving(app: Application, server: str) -> AsyncIterator[int]:
    """``app`` on a free port, under tornadish's own server or uvicorn's (``ws`` impl)."""
    if server == "tornadish":
        async with tornadish.serve(app) as srv:
            assert srv.port is not None
            yield srv.port
    else:
        async with uvicorn_serving(app.asgi, server.split(":")[1]) as port:
            yield port


# uvicorn's two WebSocket implementations that are not deprecated.
SERVERS = ["uvicorn:websockets-sansio", "uvicorn:wsproto"]


def ws_connect(port: int, path: str, **kwargs: Any) -> Any:
    return connect(f"ws://127.0.0.1:{port}{path}", proxy=None, open_timeout=5, **kwargs)


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


# -- a WebSocketHandler under both servers -------------------------------------------


class Room(WebSocketHandler):
    """Exercises what a handler sees: path args, async open, ordered async messages,
    text/binary/JSON writes, server- and client-initiated closes, size limits."""

    def initialize(self, events: list[Any]) -> None:
        self.events = events

    def prepare(self) -> None:
        self.set_cookie("seen", "1")

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return "chat" if "chat" in subprotocols else None

    async def open(self, room: str) -> None:
        self.events.append(("open", room, self.selected_subprotocol))
        await asyncio.sleep(0.02)  # no message may be delivered before open returns
        self.events.append(("opened",))
        await self.write_message(f"welcome to {room}")

    async def on_message(self, message: str | bytes) -> None:
        self.events.append(("message", message))
        if message == "close-me":
            self.close(4000, "asked")
        elif message == "boom":
            raise ValueError("a bug in on_message")
        elif message == "json":
            await self.write_message({"k": [1, 2]})
        elif message == "ping":
            self.ping(b"x")  # ASGI cannot send it; it must not fail either
            await self.write_message("pinged")
        elif isinstance(message, bytes):
            await self.write_message(message[::-1], binary=True)
        else:
            await asyncio.sleep(0.01)  # the next message waits for this one
            await self.write_message(message.upper())

    def on_close(self) -> None:
        self.events.append(("close", self.close_code, self.close_reason))

    def on_finish(self) -> None:
        self.events.append(("finish",))


class Page(RequestHandler):
    def get(self) -> None:
        self.write("a page, not a socket")


def room_app(events: list[Any]) -> Application:
    return Application(
        [(r"/room/(\w+)", Room, {"events": events}), (r"/page", Page)],
        websocket_max_message_size=1000,
    )


async def _room_transcript(port: int, events: list[Any]) -> list[Any]:
    out: list[Any] = []
    events.clear()
    # A conversation the client ends with its own close code.
    async with ws_connect(port, "/room/lobby", subprotocols=["chat", "other"]) as ws:
        out.append(("subprotocol", ws.subprotocol))
        out.append(("cookie", ws.response.headers.get("set-cookie", "").split(";")[0]))
        for message in ("a", "b", b"\x01\x02\x03", "json", "ping"):
            await ws.send(message)
        out += [await asyncio.wait_for(ws.recv(), 5) for _ in range(6)]
        pong = await ws.ping(b"p")
        await asyncio.wait_for(pong, 5)
        await ws.close(4001, "client bye")
    await wait_for(lambda: ("finish",) in events)
    out.append(list(events))
    events.clear()

    # The handler closes with a code and a reason.
    async with ws_connect(port, "/room/x") as ws:
        assert await ws.recv() == "welcome to x"
        await ws.send("close-me")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None
        out.append(("closed by server", closed.value.rcvd.code, closed.value.rcvd.reason))
    await wait_for(lambda: ("finish",) in events)
    out.append(list(events))
    events.clear()

    # A message over websocket_max_message_size closes with 1009, an exception in
    # on_message with 1011.
    for name, message in (("too big", "z" * 2000), ("error", "boom")):
        async with ws_connect(port, "/room/x") as ws:
            assert await ws.recv() == "welcome to x"
            await ws.send(message)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None
            out.append((name, closed.value.rcvd.code, closed.value.rcvd.reason))
        await wait_for(lambda: ("finish",) in events)
        events.clear()

    # Refusals are HTTP answers: a foreign Origin, an unknown path, a plain page.
    for path, headers in (
        ("/room/x", {"Origin": "http://evil.example"}),
        ("/nowhere", {}),
        ("/page", {}),
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with ws_connect(port, path, additional_headers=headers):
                pass
        out.append(("refused", path, refused.value.response.status_code))
    return out


@pytest.mark.parametrize("server", SERVERS)
async def test_websocket_handler_under_uvicorn_answers_like_tornadish_server(
    server: str,
) -> None:
    events: list[Any] = []
    async with serving(room_app(events), "tornadish") as port:
        native = await _room_transcript(port, events)
    async with serving(room_app(events), server) as port:
        via_asgi = await _room_transcript(port, events)
    assert via_asgi == native
    assert native[0] == ("subprotocol", "chat")
    assert native[1] == ("cookie", "seen=1")
    assert native[2:8] == ["welcome to lobby", "A", "B", b"\x03\x02\x01", '{"k": [1, 2]}', "pinged"]
    assert native[8] == [
        ("open", "lobby", "chat"),
        ("opened",),
        ("message", "a"),
        ("message", "b"),
        ("message", b"\x01\x02\x03"),
        ("message", "json"),
        ("message", "ping"),
        ("close", 4001, "client bye"),
        ("finish",),
    ]
    assert native[9] == ("closed by server", 4000, "asked")
    assert native[10][-2:] == [("close", 4000, "asked"), ("finish",)]
    assert native[11] == ("too big", 1009, "message too big")
    assert native[12] == ("error", 1011, "internal error")
    assert native[13:] == [
        ("refused", "/room/x", 403),
        ("refused", "/nowhere", 404),
        ("refused", "/page", 200),
    ]


async def test_asgi_websocket_client_leaving_mid_conversation_reaches_on_close() -> None:
    events: list[Any] = []
    async with serving(room_app(events), "uvicorn:websockets-sansio") as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /room/gone HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101")
        assert b"welcome to gone" in await asyncio.wait_for(reader.read(100), 5)
        writer.transport.abort()  # no close frame: on_close sees no code
        await wait_for(lambda: ("finish",) in events)
    assert events[0] == ("open", "gone", None)
    assert events[-2:] == [("close", None, None), ("finish",)]


# -- a Starlette WebSocket endpoint mounted under a tornadish route ------------------


def starlette_ws_app(seen: list[Any]) -> Any:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def echo(websocket: WebSocket) -> None:
        offered = websocket.scope["subprotocols"]
        await websocket.accept(subprotocol="v2" if "v2" in offered else None)
        await websocket.send_text(f"hi {websocket.url.path} {websocket.scope['root_path']}")
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    seen.append(("disconnect", message["code"]))
                    return
                if message.get("bytes") is not None:
                    await websocket.send_bytes(message["bytes"] * 2)
                elif message["text"] == "bye":
                    await websocket.close(4002, "done")
                    seen.append(("closed", 4002))
                    return
                else:
                    await websocket.send_text(message["text"][::-1])
        except WebSocketDisconnect as e:  # pragma: no cover - depends on timing
            seen.append(("disconnect", e.code))

    async def refuse(websocket: WebSocket) -> None:
        await websocket.close()

    return Starlette(routes=[WebSocketRoute("/echo", echo), WebSocketRoute("/refuse", refuse)])


def mounting_app(seen: list[Any]) -> Application:
    mount = {"asgi_app": starlette_ws_app(seen), "root_path": "/sub"}
    return Application([(r"/sub/.*", ASGIHandler, mount)])


async def _starlette_transcript(port: int, seen: list[Any]) -> list[Any]:
    out: list[Any] = []
    async with ws_connect(port, "/sub/echo", subprotocols=["v1", "v2"]) as ws:
        out.append(ws.subprotocol)
        out.append(await ws.recv())
        await ws.send("abc")
        await ws.send(b"\x00\x01")
        out += [await asyncio.wait_for(ws.recv(), 5) for _ in range(2)]
        # Many messages at once: the app reads them all, in order.
        for i in range(50):
            await ws.send(str(i))
        out.append(
            [await asyncio.wait_for(ws.recv(), 5) for _ in range(50)]
            == [str(i)[::-1] for i in range(50)]
        )
        await ws.close(4003, "client done")
    await wait_for(lambda: bool(seen))
    out.append(seen.pop())

    async with ws_connect(port, "/sub/echo") as ws:
        assert (await ws.recv()).startswith("hi ")
        await ws.send("bye")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None
        out.append((closed.value.rcvd.code, closed.value.rcvd.reason))
    await wait_for(lambda: bool(seen))
    out.append(seen.pop())

    for path in ("/sub/refuse", "/sub/missing"):
        with pytest.raises(InvalidStatus) as refused:
            async with ws_connect(port, path):
                pass
        out.append((path, refused.value.response.status_code))
    return out


@pytest.mark.parametrize("server", ["tornadish", "uvicorn:websockets-sansio"])
async def test_starlette_websocket_mounted_with_asgi_handler(server: str) -> None:
    pytest.importorskip("starlette")
    seen: list[Any] = []
    async with serving(mounting_app(seen), server) as port:
        out = await _starlette_transcript(port, seen)
    assert out == [
        "v2",
        "hi /sub/echo /sub",
        "cba",
        b"\x00\x01\x00\x01",
        True,
        ("disconnect", 4003),
        (4002, "done"),
        ("closed", 4002),
        ("/sub/refuse", 403),
        ("/sub/missing", 403),  # Starlette refuses unknown WebSocket paths by closing
    ]


async def test_mounted_websocket_handshake_refusals() -> None:
    pytest.importorskip("starlette")

    async def answer(port: int, version: str, key: str) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /sub/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: {version}\r\n\r\n".encode()
        )
        try:
            return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        finally:
            writer.close()

    seen: list[Any] = []
    async with tornadish.serve(mounting_app(seen)) as srv:
        port = srv.port or 0
        refused = await answer(port, "8", "dGhlIHNhbXBsZSBub25jZQ==")
        assert (
            refused.startswith(b"HTTP/1.1 426") and b"sec-websocket-version: 13" in refused.lower()
        )
        assert (await answer(port, "13", "short")).startswith(b"HTTP/1.1 400")
        assert (await answer(port, "13", "dGhlIHNhbXBsZSBub25jZQ==")).startswith(b"HTTP/1.1 101")
        # The accepted one was dropped without a close frame: 1006 for the app.
        await wait_for(lambda: bool(seen))
    assert seen == [("disconnect", 1006)]


async def test_shutdown_closes_mounted_websockets_with_1001() -> None:
    pytest.importorskip("starlette")
    seen: list[Any] = []
    async with tornadish.serve(mounting_app(seen)) as srv:
        ws = await ws_connect(srv.port or 0, "/sub/echo")
        assert (await ws.recv()).startswith("hi ")
        shutdown = asyncio.create_task(srv.shutdown(grace=5))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        await asyncio.wait_for(shutdown, 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    await wait_for(lambda: bool(seen))
    assert seen == [("disconnect", 1001)]


# -- the adapter driven directly, as servers without the optional pieces would -----------


async def _drive(app: Application, scope: dict[str, Any], incoming: list[Any]) -> list[Any]:
    """Call ``app.asgi`` with ``scope``; ``receive`` hands out ``incoming`` (then waits
    for the app to finish), ``send`` records what the app sends."""
    sent: list[Any] = []
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for message in incoming:
        queue.put_nowait(message)

    async def receive() -> Any:
        return await queue.get()

    async def send(message: Any) -> None:
        sent.append(message)
        if message["type"] == "websocket.close":
            queue.put_nowait({"type": "websocket.disconnect", "code": message["code"]})

    await asyncio.wait_for(app.asgi(scope, receive, send), 5)
    return sent


def _ws_scope(path: str, headers: list[tuple[bytes, bytes]], **extra: Any) -> dict[str, Any]:
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "2",
        "scheme": "wss",
        "path": path,
        "query_string": b"",
        "headers": headers,
        "client": ("10.0.0.1", 1234),
        "subprotocols": [],
    }
    scope.update(extra)
    return scope


async def test_adapter_without_handshake_headers_or_refusal_extension() -> None:
    events: list[Any] = []
    app = room_app(events)
    # As over HTTP/2 (RFC 8441): no Upgrade/Sec-WebSocket-* headers; offers in the scope.
    scope = _ws_scope("/room/h2", [(b"host", b"example.com")], subprotocols=["chat"])
    incoming = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hi"},
        {"type": "websocket.disconnect", "code": 1000, "reason": ""},
    ]
    sent = await _drive(app, scope, incoming)
    assert sent[0]["type"] == "websocket.accept"
    assert sent[0]["subprotocol"] == "chat"
    assert (b"set-cookie", b"seen=1; Path=/") in sent[0]["headers"]
    assert sent[1:] == [
        {"type": "websocket.send", "text": "welcome to h2"},
        {"type": "websocket.send", "text": "HI"},
    ]
    assert events[-2:] == [("close", 1000, None), ("finish",)]

    # No websocket.http.response extension: a refusal can only be a close before accept
    # (the server answers 403), whatever the handler's status.
    for path in ("/nowhere", "/page"):
        sent = await _drive(app, _ws_scope(path, []), [{"type": "websocket.connect"}])
        assert sent == [{"type": "websocket.close", "code": 1000}]
