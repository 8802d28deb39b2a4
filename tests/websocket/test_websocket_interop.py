"""Interoperability with an independent implementation: the ``websockets`` library as
client of our server and as server for our client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tornadish.web import Application
from tornadish.websocket import WebSocketHandler, websocket_connect

MESSAGES: list[str | bytes] = ["text", "ünïcödé ✓", "", b"\x00\x01\xfe\xff", b"", b"x" * (1 << 20)]


class Echo(WebSocketHandler):
    def initialize(self, compress: bool = False, log: list[Any] | None = None) -> None:
        self.compress = compress
        self.log = log if log is not None else []

    def get_compression_options(self) -> dict[str, Any] | None:
        return {} if self.compress else None

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        # Called for every handshake, with [] when the client offered none.
        return subprotocols[-1] if subprotocols else None

    def on_message(self, message: str | bytes) -> None:
        if message == "close please":
            self.close(4002, "as you wish")
            return
        self.write_message(message, binary=isinstance(message, bytes))

    def on_ping(self, data: bytes) -> None:
        self.log.append(("ping", data))

    def on_close(self) -> None:
        self.log.append(("close", self.close_code, self.close_reason))


async def start(serve_fixture: Any, **kwargs: Any) -> tuple[str, list[Any]]:
    log: list[Any] = []
    app = Application([(r"/ws", Echo, {"log": log, **kwargs})])
    srv = await serve_fixture(app)
    return f"ws://127.0.0.1:{srv.port}/ws", log


# -- websockets client, our server ---------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
async def test_websockets_client_messages(serve: Any, compress: bool) -> None:
    url, _ = await start(serve, compress=compress)
    async with connect(url, compression="deflate", max_size=None) as ws:
        assert ws.response is not None
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions")
        assert (extensions is not None) == compress
        for message in MESSAGES:
            await ws.send(message)
            assert await ws.recv() == message
        await ws.send(["frag", "mented ", "text"])
        assert await ws.recv() == "fragmented text"
        await ws.send([b"bin", b"ary"])
        assert await ws.recv() == b"binary"


async def test_websockets_client_ping_pong_and_subprotocol(serve: Any) -> None:
    url, log = await start(serve)
    async with connect(url, subprotocols=["a", "b"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "b"
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 2)
    assert ("ping", b"are you there") in log


async def test_websockets_client_closes_with_code(serve: Any) -> None:
    url, log = await start(serve)
    async with connect(url) as ws:
        await ws.close(4444, "done here")
    for _ in range(100):
        if any(e[0] == "close" for e in log):
            break
        await asyncio.sleep(0.01)
    assert ("close", 4444, "done here") in log


async def test_server_close_code_reaches_websockets_client(serve: Any) -> None:
    url, _log = await start(serve)
    async with connect(url) as ws:
        await ws.send("close please")
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4002, "as you wish")


# -- our client, websockets server ---------------------------------------------------


async def ws_echo(ws: ServerConnection) -> None:
    async for message in ws:
        if message == "close please":
            await ws.close(4003, "server says bye")
            return
        if message == "fragments please":
            await ws.send(["one ", "two ", "three"])
            continue
        await ws.send(message)


@contextlib.asynccontextmanager
async def ws_server(**kwargs: Any) -> AsyncIterator[str]:
    """A ``websockets`` echo server; yields its URL."""
    async with serve(
        ws_echo, "127.0.0.1", 0, compression="deflate", max_size=None, **kwargs
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/"


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
async def test_our_client_messages(compress: bool) -> None:
    async with ws_server() as url:
        await our_client_messages(url, compress)


async def our_client_messages(url: str, compress: bool) -> None:
    conn = await websocket_connect(url, compression_options={} if compress else None)
    assert ("Sec-WebSocket-Extensions" in conn.headers) == compress
    for message in MESSAGES:
        await conn.write_message(message, binary=isinstance(message, bytes))
        assert await conn.read_message() == message
    await conn.write_message("fragments please")
    assert await conn.read_message() == "one two three"
    conn.close()
    assert await conn.read_message() is None


async def test_our_client_subprotocol_and_ping() -> None:
    # websockets picks by its own preference order.
    async with ws_server(subprotocols=["x.v2", "x.v1"]) as url:
        await our_client_subprotocol_and_ping(url)


async def our_client_subprotocol_and_ping(url: str) -> None:
    pongs: list[bytes] = []
    conn = await websocket_connect(url, subprotocols=["x.v1", "x.v2"])
    assert conn.selected_subprotocol == "x.v2"
    conn.on_pong = pongs.append  # type: ignore[method-assign,assignment]
    conn.ping(b"hello")
    for _ in range(100):
        if pongs:
            break
        await asyncio.sleep(0.01)
    assert pongs == [b"hello"]
    conn.close()


async def test_close_codes_both_ways_with_websockets_server() -> None:
    async with ws_server() as url:
        conn = await websocket_connect(url)
        await conn.write_message("close please")
        assert await conn.read_message() is None
        assert (conn.close_code, conn.close_reason) == (4003, "server says bye")

    closed: list[Any] = []

    async def record(ws: ServerConnection) -> None:
        try:
            await ws.recv()
        except ConnectionClosed as e:
            closed.append((e.rcvd.code, e.rcvd.reason) if e.rcvd else None)

    async with serve(record, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        conn = await websocket_connect(f"ws://127.0.0.1:{port}/")
        conn.close(4100, "client leaving")
        assert await conn.read_message() is None
        assert conn.close_code == 4100  # echoed by the server
        for _ in range(100):
            if closed:
                break
            await asyncio.sleep(0.01)
    assert closed == [(4100, "client leaving")]
