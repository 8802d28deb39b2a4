"""WebSockets over HTTP/2 (RFC 8441): an unchanged ``WebSocketHandler`` reached by an
extended CONNECT, its messages framed by wsproto in the client role over h2 DATA."""

from __future__ import annotations

import asyncio
from typing import Any

import h2.errors
import h2.events
import hyperframe.frame
import pytest
import wsproto.connection
import wsproto.events

from tornadish.web import Application, RequestHandler
from tornadish.websocket import WebSocketHandler

from tests.http2.h2client import H2Client

CLOSED: list[tuple[int | None, str]] = []


class Echo(WebSocketHandler):
    def open(self) -> None:
        self.write_message(f"hello {self.request.version} {self.get_argument('who', '-')}")

    def on_message(self, message: str | bytes) -> None:
        if message == "big":
            self.write_message("z" * 300_000)
        elif message == "bye":
            self.close(1000, "asked")
        else:
            self.write_message(message, binary=isinstance(message, bytes))

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return "chat" if "chat" in subprotocols else None

    def on_close(self) -> None:
        CLOSED.append((self.close_code, self.request.path))


GATE: dict[str, asyncio.Event] = {}


class Slow(WebSocketHandler):
    """Takes each message only once the test opens ``GATE["open"]``."""

    async def on_message(self, message: str | bytes) -> None:
        await GATE["open"].wait()
        self.write_message(str(len(message)))


class Plain(RequestHandler):
    def get(self) -> None:
        self.write("not a websocket")


def make_app() -> Application:
    return Application([(r"/ws", Echo), (r"/slow", Slow), (r"/plain", Plain)])


class WsOverH2:
    """One WebSocket on one stream of an :class:`H2Client`."""

    def __init__(self, client: H2Client, sid: int) -> None:
        self.client = client
        self.sid = sid
        self.ws = wsproto.connection.Connection(wsproto.connection.ConnectionType.CLIENT)
        self.seen = 0
        self.events: list[Any] = []

    @classmethod
    async def open(
        cls, client: H2Client, path: str = "/ws", extra: list[tuple[str, str]] | None = None
    ) -> WsOverH2:
        headers = [(":protocol", "websocket"), ("sec-websocket-version", "13")]
        sid = client.start("CONNECT", path, headers + (extra or []), end=False)
        self = cls(client, sid)
        stream = client.streams[sid]
        for _ in range(100):
            if stream.headers or stream.ended.done():
                break
            await asyncio.sleep(0.02)
        return self

    @property
    def status(self) -> int:
        return self.client.streams[self.sid].status

    def send(self, event: Any) -> None:
        self.client.conn.send_data(self.sid, self.ws.send(event))
        self.client.flush()

    async def receive(self, timeout: float = 5) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        stream = self.client.streams[self.sid]
        while True:
            body = stream.body
            if len(body) > self.seen:
                self.ws.receive_data(bytes(body[self.seen :]))
                self.seen = len(body)
                self.events.extend(self.ws.events())
            if self.events:
                return self.events.pop(0)
            if stream.ended.done():
                return None
            assert loop.time() < deadline, "nothing arrived"
            await asyncio.sleep(0.01)

    async def message(self) -> str | bytes:
        parts: list[Any] = []
        while True:
            event = await self.receive()
            assert isinstance(event, wsproto.events.Message), event
            parts.append(event.data)
            if event.message_finished:
                return "".join(parts) if isinstance(event.data, str) else b"".join(parts)


async def test_a_websocket_over_http2(serve, ws_engine) -> None:
    CLOSED.clear()
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        assert client.conn.remote_settings.enable_connect_protocol == 1
        sock = await WsOverH2.open(client, "/ws?who=ann", [("sec-websocket-protocol", "chat")])
        assert sock.status == 200
        headers = dict(client.streams[sock.sid].headers)
        assert headers[b"sec-websocket-protocol"] == b"chat"
        assert b"sec-websocket-accept" not in headers and b"upgrade" not in headers
        assert await sock.message() == "hello HTTP/2.0 ann"
        sock.send(wsproto.events.TextMessage("hi"))
        assert await sock.message() == "hi"
        sock.send(wsproto.events.BytesMessage(b"\x00\x01"))
        assert await sock.message() == b"\x00\x01"
        # Another stream is served while the WebSocket is open.
        assert (await client.request("GET", "/plain")).body == b"not a websocket"
        # A large message goes through the windows.
        sock.send(wsproto.events.TextMessage("big"))
        assert await sock.message() == "z" * 300_000
        sock.send(wsproto.events.TextMessage("bye"))
        close = await sock.receive()
        assert isinstance(close, wsproto.events.CloseConnection) and close.code == 1000
        sock.send(close.response())
        await asyncio.wait_for(asyncio.shield(client.streams[sock.sid].ended), 5)
        for _ in range(50):
            if CLOSED:
                break
            await asyncio.sleep(0.02)
        assert CLOSED == [(1000, "/ws")]
        assert client.goaway is None
    finally:
        await client.close()


async def test_a_busy_handler_holds_the_client_to_its_window(serve) -> None:
    GATE["open"] = asyncio.Event()
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        sock = await WsOverH2.open(client, "/slow")
        assert sock.status == 200
        sock.send(wsproto.events.TextMessage("first"))  # the handler waits on it
        frames = memoryview(sock.ws.send(wsproto.events.BytesMessage(b"m" * 200_000)))
        sid = sock.sid
        while frames:
            room = client.conn.local_flow_control_window(sid)
            if room <= 0:
                break
            piece = frames[: min(room, client.conn.max_outbound_frame_size)]
            client.conn.send_data(sid, piece.tobytes())
            client.flush()
            frames = frames[len(piece) :]
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        # Nothing of it was taken by the handler: the window stays shut.
        assert frames and client.conn.local_flow_control_window(sid) == 0
        GATE["open"].set()
        while frames:
            room = client.conn.local_flow_control_window(sid)
            if room <= 0:
                await asyncio.sleep(0.02)
                continue
            piece = frames[: min(room, client.conn.max_outbound_frame_size)]
            client.conn.send_data(sid, piece.tobytes())
            client.flush()
            frames = frames[len(piece) :]
        assert await sock.message() == "5"
        assert await sock.message() == "200000"
    finally:
        await client.close()


async def test_the_client_closing_the_websocket(serve) -> None:
    CLOSED.clear()
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        sock = await WsOverH2.open(client)
        assert await sock.message() == "hello HTTP/2.0 -"
        sock.send(wsproto.events.CloseConnection(1001, "leaving"))
        reply = await sock.receive()
        assert isinstance(reply, wsproto.events.CloseConnection) and reply.code == 1001
        await asyncio.wait_for(asyncio.shield(client.streams[sock.sid].ended), 5)
        for _ in range(50):
            if CLOSED:
                break
            await asyncio.sleep(0.02)
        assert CLOSED == [(1001, "/ws")]
    finally:
        await client.close()


async def test_resetting_the_stream_closes_the_websocket(serve) -> None:
    CLOSED.clear()
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        sock = await WsOverH2.open(client)
        assert await sock.message() == "hello HTTP/2.0 -"
        client.conn.reset_stream(sock.sid, h2.errors.ErrorCodes.CANCEL)
        client.flush()
        for _ in range(50):
            if CLOSED:
                break
            await asyncio.sleep(0.02)
        assert CLOSED == [(None, "/ws")]
        assert (await client.request("GET", "/plain")).status == 200
    finally:
        await client.close()


async def test_an_extended_connect_to_a_plain_handler_is_reset(serve) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        sock = await WsOverH2.open(client, "/plain")
        stream = client.streams[sock.sid]
        await asyncio.wait_for(asyncio.shield(stream.ended), 5)
        assert not stream.headers and stream.reset_code == h2.errors.ErrorCodes.CANCEL
        other = await WsOverH2.open(client, "/nowhere")
        assert other.status == 404
        assert (await client.request("GET", "/plain")).status == 200
    finally:
        await client.close()


@pytest.mark.parametrize(("protocol", "status"), [("not-websocket", 501)])
async def test_an_unknown_protocol_is_501(serve, protocol, status) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        sid = client.start("CONNECT", "/ws", [(":protocol", protocol)], end=False)
        await asyncio.wait_for(asyncio.shield(client.streams[sid].ended), 5)
        assert client.streams[sid].status == status
    finally:
        await client.close()


async def test_a_plain_http2_get_to_a_websocket_handler_is_refused(serve) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        r = await client.request("GET", "/ws")
        assert r.status == 400
    finally:
        await client.close()


async def test_graceful_shutdown_closes_the_websocket_with_1001(io_loop) -> None:
    from tornadish.httpserver import HTTPServer

    CLOSED.clear()
    server = HTTPServer(make_app(), http2=True)
    server.listen(0, "127.0.0.1")
    await server.wait_started()
    assert server.port is not None
    client = await H2Client.connect(server.port)
    try:
        sock = await WsOverH2.open(client)
        assert await sock.message() == "hello HTTP/2.0 -"
        stopping = asyncio.ensure_future(server.shutdown(grace=5))
        # The close comes before the GOAWAY (our h2, like any h2-library client,
        # reads nothing on a stream past a GOAWAY).
        close = await sock.receive()
        assert isinstance(close, wsproto.events.CloseConnection) and close.code == 1001
        # (Past the GOAWAY our h2 would send nothing more: the answer goes raw.)
        reply = hyperframe.frame.DataFrame(sock.sid, data=sock.ws.send(close.response()))
        client.writer.write(reply.serialize())
        await asyncio.wait_for(asyncio.shield(client.closed), 5)
        assert client.goaway is not None
        assert client.goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
        await asyncio.wait_for(stopping, 10)
        assert CLOSED == [(1001, "/ws")]
    finally:
        await client.close()
