"""WebSocketHandler and websocket_connect against each other, over real sockets: the
handshake and its refusals, message order and flow, closing, pings, limits, TLS."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest

from tornadish.httpclient import HTTPClientError, HTTPRequest
from tornadish.web import Application, HTTPError
from tornadish.websocket import (
    WebSocketClosedError,
    WebSocketError,
    WebSocketHandler,
    websocket_connect,
)

CERTS = Path(__file__).resolve().parents[2] / "tornadish" / "_testcerts"
# Tests of the handshake and the upgrade, where the HTTP/1.1 engine has a part (it reads
# the request and hands the socket over): they run on both HTTP engines as well.
UPGRADE = pytest.mark.usefixtures("http_engine")


class Echo(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


class Recorder(WebSocketHandler):
    """Records its life in ``events`` (a list passed by the route)."""

    def initialize(self, events: list[Any]) -> None:
        self.events = events

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.events.append(("open", args, kwargs))

    def on_message(self, message: str | bytes) -> None:
        self.events.append(("message", message))
        if message == "close-me":
            self.close(4001, "asked")

    def on_close(self) -> None:
        self.events.append(("close", self.close_code, self.close_reason))

    def on_finish(self) -> None:
        self.events.append(("finish",))


def ws_url(srv: Any, path: str = "/ws") -> str:
    return f"ws://127.0.0.1:{srv.port}{path}"


async def wait_for(predicate: Any, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)


@UPGRADE
async def test_echo_text_binary_and_empty(serve: Any, loop_factory: Any) -> None:
    srv = await serve(Application([(r"/ws", Echo)]))
    conn = await websocket_connect(ws_url(srv))
    messages: list[str | bytes] = ["hello", "héllo wörld", "", b"\x00\xff", b""]
    for message in messages:
        await conn.write_message(message, binary=isinstance(message, bytes))
        assert await conn.read_message() == message
    conn.close()
    assert await conn.read_message() is None


async def test_path_args_and_lifecycle_order(serve: Any) -> None:
    events: list[Any] = []
    srv = await serve(Application([(r"/ws/(\w+)", Recorder, {"events": events})]))
    conn = await websocket_connect(ws_url(srv, "/ws/room1"))
    await conn.write_message("a")
    await conn.write_message("close-me")
    assert await conn.read_message() is None
    assert conn.close_code == 4001 and conn.close_reason == "asked"
    await wait_for(lambda: ("finish",) in events)
    assert events == [
        ("open", ("room1",), {}),
        ("message", "a"),
        ("message", "close-me"),
        ("close", 4001, None),  # the client echoed the code without a reason
        ("finish",),
    ]


async def test_client_close_code_and_reason_reach_on_close(serve: Any) -> None:
    events: list[Any] = []
    srv = await serve(Application([(r"/ws", Recorder, {"events": events})]))
    conn = await websocket_connect(ws_url(srv))
    conn.close(4321, "bye now")
    assert await conn.read_message() is None
    await wait_for(lambda: ("finish",) in events)
    assert ("close", 4321, "bye now") in events
    assert conn.close_code == 4321


class CookieUser(WebSocketHandler):
    def prepare(self) -> None:
        if self.get_cookie("token") != "secret":
            raise HTTPError(403)
        self.set_cookie("seen", "yes")

    def get_current_user(self) -> Any:
        return self.get_cookie("user")

    def open(self) -> None:
        self.write_message({"user": self.current_user})


@UPGRADE
async def test_prepare_cookies_and_current_user_before_upgrade(serve: Any) -> None:
    srv = await serve(Application([(r"/ws", CookieUser)]))
    request = HTTPRequest(ws_url(srv), headers={"Cookie": "token=secret; user=ann"})
    conn = await websocket_connect(request)
    assert await conn.read_message() == '{"user": "ann"}'
    assert "seen=yes" in conn.headers.get("Set-Cookie", "")
    conn.close()
    with pytest.raises(HTTPClientError) as info:
        await websocket_connect(ws_url(srv))
    assert info.value.code == 403


class AsyncPrepare(Echo):
    async def prepare(self) -> None:
        await asyncio.sleep(0.01)


@UPGRADE
async def test_async_prepare_then_upgrade(serve: Any) -> None:
    srv = await serve(Application([(r"/ws", AsyncPrepare)]))
    conn = await websocket_connect(ws_url(srv))
    await conn.write_message("x")
    assert await conn.read_message() == "x"
    conn.close()


@UPGRADE
async def test_plain_get_to_websocket_route_is_400(serve: Any) -> None:
    srv = await serve(Application([(r"/ws", Echo)]))
    async with httpx.AsyncClient() as client:
        r = await client.get(f"http://127.0.0.1:{srv.port}/ws")
    assert r.status_code == 400
    assert r.text == 'Can "Upgrade" only to "WebSocket".'


def handshake(path: str = "/ws", **extra: str) -> bytes:
    headers = {
        "Host": "127.0.0.1",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    for name, value in extra.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"GET {path} HTTP/1.1\r\n{lines}\r\n".encode()


@UPGRADE
async def test_handshake_refusals(serve: Any) -> None:
    srv = await serve(Application([(r"/ws", Echo)]))
    bad_connection = await srv.raw(handshake(Connection="keep-alive"), half_close=True)
    assert bad_connection.startswith(b"HTTP/1.1 400")
    assert b'"Connection" must be "Upgrade".' in bad_connection
    old_version = await srv.raw(handshake(**{"Sec-WebSocket-Version": "8"}), half_close=True)
    assert old_version.startswith(b"HTTP/1.1 426")
    assert b"sec-websocket-version: 13\r\n" in old_version.lower()
    no_key = await srv.raw(handshake(**{"Sec-WebSocket-Key": "short"}), half_close=True)
    assert no_key.startswith(b"HTTP/1.1 400")


@UPGRADE
async def test_handshake_response_is_valid(serve: Any) -> None:
    srv = await serve(Application([(r"/ws", Echo)]))
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(handshake())
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    assert head.startswith(b"HTTP/1.1 101 ")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
    assert b"Content-Type" not in head and b"Content-Length" not in head


class OriginCheck(Echo):
    def check_origin(self, origin: str) -> bool:
        return origin == "https://friend.example" or super().check_origin(origin)


@UPGRADE
async def test_origin_checks(serve: Any) -> None:
    srv = await serve(Application([(r"/ws", Echo), (r"/friendly", OriginCheck)]))
    host = f"127.0.0.1:{srv.port}"
    cross = await srv.raw(handshake(Host=host, Origin="https://evil.example"), half_close=True)
    assert cross.startswith(b"HTTP/1.1 403")
    for path, origin in [("/ws", f"http://{host}"), ("/friendly", "https://friend.example")]:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(handshake(path, Host=host, Origin=origin))
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        writer.close()


class Subprotocols(Echo):
    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return "chat.v2" if "chat.v2" in subprotocols else None

    def open(self) -> None:
        self.write_message(self.selected_subprotocol or "none")


@UPGRADE
async def test_subprotocol_selection(serve: Any) -> None:
    srv = await serve(Application([(r"/ws", Subprotocols)]))
    conn = await websocket_connect(ws_url(srv), subprotocols=["chat.v1", "chat.v2"])
    assert conn.selected_subprotocol == "chat.v2"
    assert await conn.read_message() == "chat.v2"
    conn.close()
    conn = await websocket_connect(ws_url(srv), subprotocols=["other"])
    assert conn.selected_subprotocol is None
    assert await conn.read_message() == "none"
    conn.close()


class Compressed(Echo):
    def get_compression_options(self) -> dict[str, Any]:
        return {}


@UPGRADE
async def test_compression_negotiated_only_when_both_want_it(serve: Any) -> None:
    srv = await serve(Application([(r"/ws", Compressed), (r"/plain", Echo)]))
    big = "compress me " * 20000
    conn = await websocket_connect(ws_url(srv), compression_options={})
    assert conn.headers.get("Sec-WebSocket-Extensions", "").startswith("permessage-deflate")
    for _ in range(3):  # context takeover across messages
        await conn.write_message(big)
        assert await conn.read_message() == big
    conn.close()
    conn = await websocket_connect(ws_url(srv, "/plain"), compression_options={})
    assert "Sec-WebSocket-Extensions" not in conn.headers
    await conn.write_message(big)
    assert await conn.read_message() == big
    conn.close()


class Slow(WebSocketHandler):
    active = 0
    seen: list[str] = []

    async def on_message(self, message: str | bytes) -> None:
        type(self).active += 1
        assert type(self).active == 1, "messages must be delivered one at a time"
        await asyncio.sleep(0.002)
        self.seen.append(str(message))
        type(self).active -= 1
        await self.write_message(message)


async def test_async_on_message_one_at_a_time_in_order(serve: Any, loop_factory: Any) -> None:
    Slow.seen = []
    srv = await serve(Application([(r"/ws", Slow)]))
    conn = await websocket_connect(ws_url(srv))
    for i in range(30):
        conn.write_message(str(i))
    replies = [await conn.read_message() for _ in range(30)]
    assert replies == [str(i) for i in range(30)]
    assert Slow.seen == replies
    conn.close()


class AsyncOpen(WebSocketHandler):
    async def open(self) -> None:
        await asyncio.sleep(0.05)
        self.ready = True

    def on_message(self, message: str | bytes) -> None:
        self.write_message("ready" if getattr(self, "ready", False) else "too early")


async def test_async_open_delays_messages(serve: Any) -> None:
    srv = await serve(Application([(r"/ws", AsyncOpen)]))
    conn = await websocket_connect(ws_url(srv))
    await conn.write_message("x")
    assert await conn.read_message() == "ready"
    conn.close()


class CloseAtOnce(WebSocketHandler):
    def open(self) -> None:
        self.close()
        self.outcome: list[str] = []
        try:
            self.write_message("late")
        except WebSocketClosedError:
            self.outcome.append("raised")
        CloseAtOnce.last = self

    last: CloseAtOnce | None = None


async def test_write_message_after_close_raises(serve: Any) -> None:
    srv = await serve(Application([(r"/ws", CloseAtOnce)]))
    conn = await websocket_connect(ws_url(srv))
    assert await conn.read_message() is None
    assert conn.close_code is None  # an empty close frame
    assert CloseAtOnce.last is not None and CloseAtOnce.last.outcome == ["raised"]
    with pytest.raises(WebSocketClosedError):
        conn.write_message("x")


class Pinger(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.ping(b"from-server")

    def on_ping(self, data: bytes) -> None:
        self.write_message(b"ping:" + data, binary=True)

    def on_pong(self, data: bytes) -> None:
        self.write_message(b"pong:" + data, binary=True)


async def test_ping_and_pong_both_ways(serve: Any) -> None:
    srv = await serve(Application([(r"/ws", Pinger)]))
    conn = await websocket_connect(ws_url(srv))
    conn.ping(b"hi")
    assert await conn.read_message() == b"ping:hi"
    await conn.write_message("please ping")
    assert await conn.read_message() == b"pong:from-server"
    conn.close()


async def test_keepalive_pings_are_sent_and_answered(serve: Any) -> None:
    pongs: list[bytes] = []

    class Counting(Echo):
        def on_pong(self, data: bytes) -> None:
            pongs.append(data)

    app = Application([(r"/ws", Counting)], websocket_ping_interval=0.02)
    srv = await serve(app)
    conn = await websocket_connect(ws_url(srv))
    await wait_for(lambda: len(pongs) >= 3)
    await conn.write_message("still open")
    assert await conn.read_message() == "still open"
    conn.close()


async def test_oversized_message_closes_1009(serve: Any) -> None:
    events: list[Any] = []
    app = Application([(r"/ws", Recorder, {"events": events})], websocket_max_message_size=1000)
    srv = await serve(app)
    conn = await websocket_connect(ws_url(srv))
    await conn.write_message("x" * 1000)
    await conn.write_message("y" * 1001)
    assert await conn.read_message() is None
    assert conn.close_code == 1009
    await wait_for(lambda: ("finish",) in events)
    assert ("message", "x" * 1000) in events
    assert not any(e[0] == "message" and e[1].startswith("y") for e in events)


class Broken(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        raise RuntimeError("boom")


async def test_exception_in_on_message_is_logged_and_closes_1011(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    srv = await serve(Application([(r"/ws", Broken)]))
    conn = await websocket_connect(ws_url(srv))
    with caplog.at_level(logging.ERROR, logger="tornadish.application"):
        await conn.write_message("x")
        assert await conn.read_message() is None
    assert conn.close_code == 1011
    assert any("boom" in (r.exc_text or "") for r in caplog.records)


async def test_client_errors(serve: Any) -> None:
    srv = await serve(Application([(r"/ws", Echo)]))
    with pytest.raises(HTTPClientError) as info:
        await websocket_connect(ws_url(srv, "/missing"))
    assert info.value.code == 404
    with pytest.raises(ValueError):
        await websocket_connect(f"ftp://127.0.0.1:{srv.port}/")
    srv.server.stop()
    with pytest.raises(OSError):
        await websocket_connect(ws_url(srv))


async def test_async_iteration_and_message_callback(serve: Any) -> None:
    class Three(WebSocketHandler):
        def open(self) -> None:
            for i in range(3):
                self.write_message(str(i))
            self.close()

    srv = await serve(Application([(r"/ws", Three)]))
    conn = await websocket_connect(ws_url(srv))
    assert [m async for m in conn] == ["0", "1", "2"]
    got: list[Any] = []
    conn = await websocket_connect(ws_url(srv), on_message_callback=got.append)
    await wait_for(lambda: None in got)
    assert got == ["0", "1", "2", None]


async def test_client_reads_ahead_a_bounded_number_of_messages(serve: Any) -> None:
    class Flood(WebSocketHandler):
        async def open(self) -> None:
            for i in range(200):
                await self.write_message(str(i) * 1000)

    srv = await serve(Application([(r"/ws", Flood)]))
    conn = await websocket_connect(ws_url(srv))
    await asyncio.sleep(0.1)
    assert len(conn._queue) <= 16
    received = [await conn.read_message() for _ in range(200)]
    assert received[-1] == "199" * 1000
    conn.close()


@UPGRADE
async def test_server_shutdown_closes_sockets_with_1001(serve: Any) -> None:
    events: list[Any] = []
    srv = await serve(Application([(r"/ws", Recorder, {"events": events})]))
    conn = await websocket_connect(ws_url(srv))
    await srv.server.close_all_connections()
    assert await conn.read_message() is None
    assert conn.close_code == 1001
    assert not srv.server.connections
    assert ("close", 1001, None) in events


async def test_wss_with_validate_cert_off(serve: Any, loop_factory: Any) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(CERTS / "test.crt", CERTS / "test.key")
    srv = await serve(Application([(r"/ws", Echo)]), ssl_options=context)
    url = f"wss://127.0.0.1:{srv.port}/ws"
    with pytest.raises(ssl.SSLError):
        await websocket_connect(url)
    conn = await websocket_connect(HTTPRequest(url, validate_cert=False))
    await conn.write_message("secure")
    assert await conn.read_message() == "secure"
    conn.close()
    assert await conn.read_message() is None


@UPGRADE
async def test_non_websocket_answer_is_an_error(serve: Any) -> None:
    from tornadish.web import RequestHandler

    class Plain(RequestHandler):
        def get(self) -> None:
            self.write("not a socket")

    srv = await serve(Application([(r"/ws", Plain)]))
    with pytest.raises(WebSocketError):
        await websocket_connect(ws_url(srv))
