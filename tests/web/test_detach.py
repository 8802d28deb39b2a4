"""``RequestHandler.detach()`` and ``request.connection.detach()``: the connection
becomes a real ``IOStream`` on the same socket, over real sockets (plain and TLS, on
the stdlib loop and uvloop). Tornado's tests detach to write a response by hand
(``simple_httpclient_test``: ``ContentLengthHandler``, ``NoContentLengthHandler``,
the 1xx and 204 responders); so do these."""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import Any

import pytest

import tornadish
from tornadish.httputil import HTTPServerRequest
from tornadish.iostream import IOStream, SSLIOStream, StreamClosedError
from tornadish.web import Application, RequestHandler

CERTS = os.path.join(os.path.dirname(tornadish.__file__), "_testcerts")
SSL_OPTIONS = {
    "certfile": os.path.join(CERTS, "test.crt"),
    "keyfile": os.path.join(CERTS, "test.key"),
}


async def exchange(port: int, data: bytes, *, tls: bool = False, timeout: float = 3.0) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it."""
    ctx = None
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    try:
        writer.write(data)
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


class NoContentLengthHandler(RequestHandler):
    # An HTTP/1.0 answer that ends when the connection does (Tornado's test handler).
    def get(self) -> None:
        stream = self.detach()
        stream.write(b"HTTP/1.0 200 OK\r\n\r\nhello")
        stream.close()


class ContentLengthHandler(RequestHandler):
    def get(self) -> None:
        self.stream = self.detach()
        tornadish.ioloop.IOLoop.current().spawn_callback(self.write_response)

    async def write_response(self) -> None:
        value = self.get_argument("value")
        await self.stream.write(f"HTTP/1.0 200 OK\r\nContent-Length: {value}\r\n\r\nok".encode())
        self.stream.close()


@pytest.mark.parametrize("tls", [False, True])
async def test_detach_and_write_a_raw_response(serve, loop_factory, tls: bool) -> None:
    app = Application([("/", NoContentLengthHandler), ("/len", ContentLengthHandler)])
    srv = await serve(app, ssl_options=SSL_OPTIONS) if tls else await serve(app)
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    assert await exchange(srv.port, request, tls=tls) == b"HTTP/1.0 200 OK\r\n\r\nhello"
    request = b"GET /len?value=2 HTTP/1.1\r\nHost: x\r\n\r\n"
    got = await exchange(srv.port, request, tls=tls)
    assert got == b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def test_detached_stream_is_an_iostream_of_the_right_kind(serve, loop_factory) -> None:
    kinds: list[type] = []

    class Kind(RequestHandler):
        def get(self) -> None:
            stream = self.detach()
            kinds.append(type(stream))
            assert self.request.connection is not None
            assert self.request.connection.stream is stream
            stream.close()

    app = Application([("/", Kind)])
    plain = await serve(app)
    tls = await serve(app, ssl_options=SSL_OPTIONS)
    await exchange(plain.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await exchange(tls.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", tls=True)
    assert kinds == [IOStream, SSLIOStream]


async def test_bytes_past_the_request_belong_to_the_stream(serve, loop_factory) -> None:
    # A protocol tunnelled over an HTTP request: whatever the client sent after the
    # request, in the same packet or later, is read from the detached stream.
    class Echo(RequestHandler):
        async def get(self) -> None:
            stream = self.detach()
            await stream.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\n")
            while True:
                line = await stream.read_until(b"\n")
                if line == b"bye\n":
                    break
                await stream.write(b"echo: " + line)
            stream.close()

    srv = await serve(Application([("/", Echo)]))
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n\r\nfirst\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
        assert head.startswith(b"HTTP/1.1 101 ")
        assert await asyncio.wait_for(reader.readline(), 3) == b"echo: first\n"
        writer.write(b"second\n")
        assert await asyncio.wait_for(reader.readline(), 3) == b"echo: second\n"
        writer.write(b"bye\n")
        assert await asyncio.wait_for(reader.read(), 3) == b""
    finally:
        writer.close()


async def test_request_callback_detaches_the_connection(serve, loop_factory) -> None:
    # Tornado's HTTPServer request callbacks: request.connection.detach().
    def respond(request: HTTPServerRequest) -> None:
        assert request.connection is not None
        stream = request.connection.detach()
        stream.write(b"HTTP/1.1 100 CONTINUE\r\n\r\n" * 2)
        stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA")
        stream.close()

    srv = await serve(respond)
    got = await exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert got.endswith(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA")
    assert got.count(b"100 CONTINUE") == 2


async def test_close_callback_set_before_detach_moves_to_the_stream(serve, loop_factory) -> None:
    state: dict[str, Any] = {"closed": asyncio.Event(), "stream": None}

    class Hold(RequestHandler):
        def get(self) -> None:
            assert self.request.connection is not None
            self.request.connection.stream.set_close_callback(state["closed"].set)
            state["stream"] = self.detach()
            state["stream"].write(b"hello\n")

    srv = await serve(Application([("/", Hold)]))
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await asyncio.wait_for(reader.readline(), 3) == b"hello\n"
    assert not state["closed"].is_set()
    writer.close()
    await asyncio.wait_for(state["closed"].wait(), 3)
    assert state["stream"].closed()


async def test_server_shutdown_leaves_a_detached_stream_alone(serve, loop_factory) -> None:
    # As in Tornado: a detached connection is the handler's, not the server's.
    state: dict[str, Any] = {"stream": None, "ready": asyncio.Event()}

    class Keep(RequestHandler):
        def get(self) -> None:
            state["stream"] = self.detach()
            state["ready"].set()

    srv = await serve(Application([("/", Keep)]))
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(state["ready"].wait(), 3)
        srv.server.stop()
        await asyncio.wait_for(srv.server.close_all_connections(), 3)
        stream: IOStream = state["stream"]
        assert not stream.closed()
        await stream.write(b"still here\n")
        assert await asyncio.wait_for(reader.readline(), 3) == b"still here\n"
        stream.close()
    finally:
        writer.close()


async def test_connection_stream_view_before_detach(serve, loop_factory) -> None:
    # The IOStream-like view: closed(), write() of raw bytes (Tornado code writing its
    # own status line), set_close_callback.
    class Raw(RequestHandler):
        async def get(self) -> None:
            assert self.request.connection is not None
            stream = self.request.connection.stream
            assert not stream.closed()
            await stream.write(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nraw")
            stream.close()  # (the finish() that follows has no connection to write to)

    srv = await serve(Application([("/", Raw)]))
    got = await exchange(srv.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert got == b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nraw"


@pytest.mark.parametrize("how", ["close", "half-close"])
async def test_detach_after_the_client_left(serve, loop_factory, how: str) -> None:
    # Tornado hands over its stream, closed by then: reading or writing fails.
    state: dict[str, Any] = {"error": None, "done": asyncio.Event(), "started": asyncio.Event()}

    class Late(RequestHandler):
        async def get(self) -> None:
            state["started"].set()
            assert self.request.connection is not None
            while not self.request.connection.stream.closed():
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            stream = self.detach()
            try:
                await stream.read_bytes(1)
            except StreamClosedError as e:
                state["error"] = e
            state["closed"] = stream.closed()
            state["done"].set()

    srv = await serve(Application([("/", Late)]))
    _reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(state["started"].wait(), 3)
    if how == "close":
        writer.close()
    else:
        writer.write_eof()
    await asyncio.wait_for(state["done"].wait(), 3)
    assert isinstance(state["error"], StreamClosedError)
    assert state["closed"]
    writer.close()
