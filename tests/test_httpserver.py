"""HTTPServer over real sockets: keep-alive, pipelining, bodies, flow control, xheaders,
TLS, listening and stopping, multi-process, close notification.

Raw bytes go through :mod:`_rawhttp` (a parser independent of h11); httpx is the
independent well-behaved client.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tornadish import netutil
from tornadish.httpserver import HTTPServer
from tornadish.httputil import HTTPHeaders, HTTPServerRequest, ResponseStartLine
from tornadish.web import Application, RequestHandler, stream_request_body

from _rawhttp import RawConn, assert_logged, capture_general, chunked, request
from conftest import free_port

REPO = Path(__file__).resolve().parent.parent


class Hello(RequestHandler):
    def get(self) -> None:
        self.write("Hello")

    def head(self) -> None:
        self.get()


class Echo(RequestHandler):
    def post(self) -> None:
        self.write(self.request.body)

    put = post


class ConnInfo(RequestHandler):
    def get(self) -> None:
        conn: Any = self.request.connection
        self.write(
            {
                "conn": id(conn),
                "port": conn.address[1] if isinstance(conn.address, tuple) else None,
                "remote_ip": self.request.remote_ip,
                "protocol": self.request.protocol,
            }
        )


class Sleepy(RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(float(self.get_argument("t")))
        self.write(self.get_argument("n"))


class Streamer(RequestHandler):
    """Flushes ``n`` parts, so the response is chunked (HTTP/1.1) or close-delimited."""

    async def get(self) -> None:
        for i in range(int(self.get_argument("n", "3"))):
            self.write(f"part{i};")
            await self.flush()


@stream_request_body
class StreamIn(RequestHandler):
    def prepare(self) -> None:
        self.parts: list[bytes] = []

    async def data_received(self, chunk: bytes) -> None:
        self.parts.append(chunk)
        await asyncio.sleep(0)

    def put(self) -> None:
        self.write({"bytes": sum(map(len, self.parts)), "parts": len(self.parts)})


def app() -> Application:
    return Application(
        [
            (r"/", Hello),
            (r"/echo", Echo),
            (r"/info", ConnInfo),
            (r"/sleep", Sleepy),
            (r"/stream", Streamer),
            (r"/in", StreamIn),
        ]
    )


# -- connection reuse -------------------------------------------------------------------


async def test_keep_alive_httpx_reuses_connection(serve, loop_factory) -> None:
    srv = await serve(app())
    async with httpx.AsyncClient() as client:
        infos = [(await client.get(srv.base_url + "/info")).json() for _ in range(4)]
    assert len({i["conn"] for i in infos}) == 1
    assert len({i["port"] for i in infos}) == 1


async def test_keep_alive_raw(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    for i in range(3):
        conn.send(request("GET", f"/info?{i}"))
        resp = await conn.response()
        assert resp.status == 200
        assert resp.header("Connection") is None  # HTTP/1.1: persistent by default
        assert json.loads(resp.body)["port"] == conn.local_port
        conn.send(request("POST", "/echo", body=b"body%d" % i))
        resp = await conn.response()
        assert resp.body == b"body%d" % i
    assert len(srv.server.connections) == 1
    conn.close()


async def test_http10_without_keep_alive_closes(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(b"GET / HTTP/1.0\r\n\r\n")
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b"Hello"
    assert resp.header("Connection") != "keep-alive"
    assert await conn.is_closed()
    conn.close()


async def test_http10_keep_alive(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    for i in range(3):
        conn.send(b"GET /info?%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % i)
        resp = await conn.response()
        assert resp.status == 200
        assert resp.header("Connection") == "keep-alive"
        assert resp.header("Content-Length") == str(len(resp.body))
        assert resp.header("Transfer-Encoding") is None
        assert json.loads(resp.body)["port"] == conn.local_port
    assert not await conn.is_closed(timeout=0.1)
    # Without the token the next one is the last.
    conn.send(b"GET / HTTP/1.0\r\n\r\n")
    assert (await conn.response()).body == b"Hello"
    assert await conn.is_closed()
    conn.close()


async def test_http10_keep_alive_pipelined_and_with_bodies(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    ka = {"Connection": "keep-alive"}
    conn.send(
        request("POST", "/echo", ka, b"one", version="HTTP/1.0")
        + request("GET", "/sleep?t=0.05&n=two", ka, version="HTTP/1.0")
        + request("POST", "/echo", ka, b"three", version="HTTP/1.0")
    )
    for expected in (b"one", b"two", b"three"):
        resp = await conn.response()
        assert resp.body == expected and resp.header("Connection") == "keep-alive"
    assert not await conn.is_closed(timeout=0.05)
    conn.close()


async def test_http10_keep_alive_streamed_response_is_close_delimited(serve) -> None:
    """HTTP/1.0 has no chunked encoding: a response of unknown length ends the connection
    even if the client asked for keep-alive."""
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    resp = await conn.response()
    assert resp.status == 200
    assert resp.header("Transfer-Encoding") is None
    assert resp.header("Connection") != "keep-alive"
    assert resp.body == b"part0;part1;part2;"  # read up to the close
    conn.close()


@pytest.mark.parametrize("token", ["close", "Close", "keep-alive, close"])
async def test_connection_close(serve, token) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request(headers={"Connection": token}))
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b"Hello"
    assert resp.header("Connection") == "close"
    assert await conn.is_closed()
    conn.close()


async def test_no_keep_alive_server_setting(serve) -> None:
    srv = await serve(app(), no_keep_alive=True)
    conn = await RawConn.open(srv.port)
    conn.send(request())
    resp = await conn.response()
    assert resp.header("Connection") == "close"
    assert await conn.is_closed()
    conn.close()


async def test_chunked_response_then_keep_alive(serve) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/stream?n=4"))
    resp = await conn.response()
    assert resp.header("Transfer-Encoding") == "chunked"
    assert resp.body == b"part0;part1;part2;part3;"
    conn.send(request())
    assert (await conn.response()).body == b"Hello"
    conn.close()


# -- pipelining -------------------------------------------------------------------------


async def test_pipelined_async_handlers_answered_in_order(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    # The first sleeps longest: answering in completion order would reverse them.
    conn.send(
        request("GET", "/sleep?t=0.15&n=a")
        + request("GET", "/sleep?t=0.05&n=b")
        + request("GET", "/sleep?t=0&n=c")
        + request("POST", "/echo", body=b"d")
    )
    bodies = [(await conn.response()).body for _ in range(4)]
    assert bodies == [b"a", b"b", b"c", b"d"]
    conn.close()


async def test_pipelined_many_sync_requests(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    n = 50
    conn.send(b"".join(request("POST", "/echo", body=b"r%d" % i) for i in range(n)))
    for i in range(n):
        resp = await conn.response()
        assert resp.body == b"r%d" % i
    assert not await conn.is_closed(timeout=0.05)
    conn.close()


async def test_pipelined_then_close_in_last(serve) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/?1") + request("GET", "/?2", {"Connection": "close"}) + request())
    assert (await conn.response()).status == 200
    last = await conn.response()
    assert last.header("Connection") == "close"
    assert await conn.is_closed()  # the third request is never answered
    conn.close()


# -- Expect: 100-continue -----------------------------------------------------------------


async def test_expect_100_continue(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/echo", {"Content-Length": "5", "Expect": "100-continue"}))
    interim = await conn.response(timeout=1)
    assert interim.status == 100
    conn.send(b"hello")
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b"hello"
    # and the connection goes on
    conn.send(request("POST", "/echo", {"Expect": "100-continue"}, body=b"again"))
    assert (await conn.response()).status == 100
    assert (await conn.response()).body == b"again"
    conn.close()


async def test_expect_100_continue_streaming_handler(serve) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", "/in", {"Transfer-Encoding": "chunked", "Expect": "100-continue"}))
    assert (await conn.response(timeout=1)).status == 100
    conn.send(chunked(b"a" * 10, b"b" * 20))
    resp = await conn.response()
    assert json.loads(resp.body)["bytes"] == 30
    conn.close()


async def test_expect_100_continue_over_limit_gets_413_without_100(serve, caplog) -> None:
    capture_general(caplog)
    srv = await serve(app(), max_body_size=10)
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/echo", {"Content-Length": "11", "Expect": "100-continue"}))
    resp = await conn.response(timeout=1)
    assert resp.status == 413
    assert await conn.is_closed()
    conn.close()
    assert_logged(caplog, 413)


async def test_expect_100_continue_httpx_body(serve) -> None:
    srv = await serve(app())
    async with httpx.AsyncClient() as client:
        r = await client.post(
            srv.base_url + "/echo", content=b"x" * 1000, headers={"Expect": "100-continue"}
        )
    assert r.status_code == 200 and r.content == b"x" * 1000


# -- request bodies ----------------------------------------------------------------------


async def test_content_length_body_echo(serve, loop_factory) -> None:
    srv = await serve(app())
    body = os.urandom(300_000)
    async with httpx.AsyncClient() as client:
        r = await client.post(srv.base_url + "/echo", content=body)
    assert r.status_code == 200 and r.content == body


async def test_chunked_body_echo_raw(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/echo", {"Transfer-Encoding": "chunked"}))
    conn.send(b"5;ext=1\r\nhello\r\n")
    await asyncio.sleep(0.02)
    conn.send(b"6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
    resp = await conn.response()
    assert resp.body == b"hello world"
    conn.send(request("POST", "/echo", {"Transfer-Encoding": "chunked"}, chunked(b"second")))
    assert (await conn.response()).body == b"second"
    conn.close()


async def test_chunked_body_httpx_generator(serve) -> None:
    srv = await serve(app())

    async def gen():
        for i in range(20):
            yield b"%03d," % i

    async with httpx.AsyncClient() as client:
        r = await client.post(srv.base_url + "/echo", content=gen())
        assert r.content == b"".join(b"%03d," % i for i in range(20))
        r = await client.put(srv.base_url + "/in", content=gen())
        assert r.json()["bytes"] == 80


async def test_streaming_body_large(serve, loop_factory) -> None:
    srv = await serve(app())
    async with httpx.AsyncClient() as client:
        r = await client.put(srv.base_url + "/in", content=b"y" * 2_000_000)
    assert r.json()["bytes"] == 2_000_000


async def test_empty_body_post(serve) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/echo", {"Content-Length": "0"}))
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b""
    conn.close()


# -- HEAD -------------------------------------------------------------------------------


async def test_head_no_body_same_length(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request("GET"))
    get = await conn.response()
    conn.send(request("HEAD"))
    head = await conn.response(head=True)
    assert head.status == 200
    assert head.header("Content-Length") == get.header("Content-Length") == "5"
    # No body bytes were sent: the next response starts right away.
    conn.send(request("GET", "/?after"))
    after = await conn.response()
    assert after.status == 200 and after.body == b"Hello"
    conn.close()
    async with httpx.AsyncClient() as client:
        r = await client.head(srv.base_url + "/")
    assert r.content == b"" and r.headers["content-length"] == "5"


# -- flow control ----------------------------------------------------------------------------


async def test_flush_waits_for_slow_reader(serve, loop_factory) -> None:
    chunk = b"f" * 65536
    n = 64
    state: dict[str, Any] = {"written": 0, "max_buffer": 0, "done": False}

    class Big(RequestHandler):
        async def get(self) -> None:
            transport = self.request.connection.transport  # type: ignore[union-attr]
            transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 16384
            )
            for _ in range(n):
                self.write(chunk)
                await self.flush()
                state["written"] += 1
                state["max_buffer"] = max(state["max_buffer"], transport.get_write_buffer_size())
            state["done"] = True

    srv = await serve(Application([(r"/big", Big)]), write_buffer_limits=(131072, 32768))
    conn = await RawConn.open(srv.port, rcvbuf=4096)
    conn.send(request("GET", "/big"))
    await asyncio.sleep(0.3)
    stalled = state["written"]
    assert stalled < n // 2, stalled
    assert not state["done"]
    assert state["max_buffer"] <= 131072 + len(chunk) + 64
    await asyncio.sleep(0.1)
    assert state["written"] == stalled  # really waiting, not crawling on
    resp = await conn.response(timeout=10)
    assert len(resp.body) == n * len(chunk) and set(resp.body) == {ord("f")}
    assert state["done"]
    assert state["max_buffer"] <= 131072 + len(chunk) + 64
    conn.close()


# -- xheaders ------------------------------------------------------------------------------


async def _info(srv, headers: dict[str, str]) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        r = await client.get(srv.base_url + "/info", headers=headers)
    return r.json()  # type: ignore[no-any-return]


async def test_xheaders_real_ip_and_proto(serve) -> None:
    srv = await serve(app(), xheaders=True)
    info = await _info(srv, {"X-Real-Ip": "4.4.4.4", "X-Forwarded-Proto": "https"})
    assert info["remote_ip"] == "4.4.4.4" and info["protocol"] == "https"
    info = await _info(srv, {"X-Real-Ip": "2001:db8::1", "X-Scheme": "https"})
    assert info["remote_ip"] == "2001:db8::1" and info["protocol"] == "https"
    info = await _info(srv, {})
    assert info["remote_ip"] == "127.0.0.1" and info["protocol"] == "http"


async def test_xheaders_forwarded_for_and_trusted_downstream(serve) -> None:
    srv = await serve(app(), xheaders=True)
    info = await _info(srv, {"X-Forwarded-For": "1.1.1.1, 2.2.2.2"})
    assert info["remote_ip"] == "2.2.2.2"  # the last hop is what the proxy saw
    srv2 = await serve(app(), xheaders=True, trusted_downstream=["2.2.2.2"])
    info = await _info(srv2, {"X-Forwarded-For": "1.1.1.1, 2.2.2.2"})
    assert info["remote_ip"] == "1.1.1.1"
    # X-Real-Ip wins over X-Forwarded-For
    info = await _info(srv2, {"X-Forwarded-For": "1.1.1.1", "X-Real-Ip": "3.3.3.3"})
    assert info["remote_ip"] == "3.3.3.3"


async def test_xheaders_invalid_values_ignored(serve) -> None:
    srv = await serve(app(), xheaders=True)
    for bad in ("not-an-ip", "1.2.3.4.5", "", "evil.example.com"):
        info = await _info(srv, {"X-Real-Ip": bad})
        assert info["remote_ip"] == "127.0.0.1", bad
    info = await _info(srv, {"X-Forwarded-For": "garbage"})
    assert info["remote_ip"] == "127.0.0.1"
    info = await _info(srv, {"X-Forwarded-Proto": "ftp"})
    assert info["protocol"] == "http"
    info = await _info(srv, {"X-Forwarded-Proto": "http, HTTPS"})
    assert info["protocol"] == "https"


async def test_xheaders_ignored_without_setting(serve) -> None:
    srv = await serve(app())
    info = await _info(
        srv, {"X-Real-Ip": "4.4.4.4", "X-Forwarded-For": "5.5.5.5", "X-Forwarded-Proto": "https"}
    )
    assert info["remote_ip"] == "127.0.0.1" and info["protocol"] == "http"


async def test_xheaders_do_not_leak_between_requests(serve) -> None:
    srv = await serve(app(), xheaders=True)
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/info", {"X-Real-Ip": "4.4.4.4", "X-Forwarded-Proto": "https"}))
    first = json.loads((await conn.response()).body)
    conn.send(request("GET", "/info"))
    second = json.loads((await conn.response()).body)
    conn.close()
    assert (first["remote_ip"], first["protocol"]) == ("4.4.4.4", "https")
    assert (second["remote_ip"], second["protocol"]) == ("127.0.0.1", "http")


# -- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cert(self_signed_cert: tuple[str, str]) -> tuple[str, str]:
    return self_signed_cert


@pytest.mark.parametrize("as_context", [False, True], ids=["dict", "SSLContext"])
async def test_ssl_options(serve, cert, loop_factory, as_context) -> None:
    certfile, keyfile = cert
    if as_context:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        srv = await serve(app(), ssl_options=ctx)
    else:
        srv = await serve(app(), ssl_options={"certfile": certfile, "keyfile": keyfile})
    client_ctx = ssl.create_default_context(cafile=certfile)
    url = f"https://127.0.0.1:{srv.port}"
    async with httpx.AsyncClient(verify=client_ctx) as client:
        infos = [(await client.get(url + "/info")).json() for _ in range(2)]
        r = await client.post(url + "/echo", content=b"secret" * 1000)
    assert infos[0]["protocol"] == "https"
    assert infos[0]["conn"] == infos[1]["conn"]  # keep-alive over TLS
    assert r.content == b"secret" * 1000
    # A plain-HTTP client on the TLS port gets nothing useful and the server lives on.
    conn = await RawConn.open(srv.port)
    conn.send(request())
    await conn.read_until_eof(timeout=2)
    conn.close()
    async with httpx.AsyncClient(verify=False) as client:
        assert (await client.get(url + "/")).text == "Hello"


async def test_ssl_options_bad_key_raises(cert) -> None:
    with pytest.raises(ValueError):
        HTTPServer(app(), ssl_options={"certfile": cert[0], "bogus": 1})


# -- listening and stopping ------------------------------------------------------------------


def test_listen_before_loop_runs() -> None:
    """Tornado's ``server.listen(port); IOLoop.current().start()``."""
    from tornadish.ioloop import IOLoop

    port = free_port()
    server = HTTPServer(app())
    server.listen(port, "127.0.0.1")
    io_loop = IOLoop.current()
    result: dict[str, Any] = {}

    async def client() -> None:
        try:
            async with httpx.AsyncClient() as c:
                result["text"] = (await c.get(f"http://127.0.0.1:{port}/")).text
        finally:
            server.stop()
            await server.close_all_connections()
            io_loop.stop()

    io_loop.add_callback(client)
    timer = io_loop.call_later(5, io_loop.stop)
    try:
        io_loop.start()
    finally:
        io_loop.remove_timeout(timer)
        io_loop.close(all_fds=True)
    assert result == {"text": "Hello"}


async def test_listen_inside_running_loop(loop_factory) -> None:
    port = free_port()
    server = HTTPServer(app())
    server.listen(port, "127.0.0.1")  # no wait_started: the socket is listening already
    try:
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{port}/")
        assert r.text == "Hello"
        assert server.sockets and server.sockets[0].getsockname()[1] == port
    finally:
        server.stop()
        await server.close_all_connections()


async def test_application_listen(loop_factory) -> None:
    port = free_port()
    server = app().listen(port, "127.0.0.1", xheaders=True)
    try:
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{port}/info", headers={"X-Real-Ip": "9.9.9.9"})
        assert r.json()["remote_ip"] == "9.9.9.9"
    finally:
        server.stop()
        await server.close_all_connections()


async def test_bind_then_start_one_process() -> None:
    port = free_port()
    server = HTTPServer(app())
    server.bind(port, "127.0.0.1")
    with pytest.raises(OSError):  # bound and listening, so the port is taken
        netutil.bind_sockets(port, "127.0.0.1")
    server.start(1)
    try:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).text == "Hello"
    finally:
        server.stop()
        await server.close_all_connections()


async def test_add_sockets_and_unix_socket(tmp_path) -> None:
    sockets = netutil.bind_sockets(0, "127.0.0.1")
    unix = netutil.bind_unix_socket(str(tmp_path / "s.sock"))
    server = HTTPServer(app())
    server.add_sockets(sockets)
    server.add_socket(unix)
    await server.wait_started()
    try:
        port = sockets[0].getsockname()[1]
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).text == "Hello"
        transport = httpx.AsyncHTTPTransport(uds=str(tmp_path / "s.sock"))
        async with httpx.AsyncClient(transport=transport) as client:
            r = await client.get("http://localhost/info")
        assert r.json()["remote_ip"] == "0.0.0.0"  # no peer address on a Unix socket
    finally:
        server.stop()
        await server.close_all_connections()


async def test_stop_refuses_new_connections_keeps_open_ones(serve, loop_factory) -> None:
    srv = await serve(app())
    conn = await RawConn.open(srv.port)
    conn.send(request())
    assert (await conn.response()).status == 200
    srv.server.stop()
    await asyncio.sleep(0.01)
    with pytest.raises(OSError):
        await RawConn.open(srv.port)
    conn.send(request("GET", "/?still"))
    assert (await conn.response()).body == b"Hello"
    conn.close()


async def test_close_all_connections(serve, loop_factory) -> None:
    srv = await serve(app())
    conns = [await RawConn.open(srv.port) for _ in range(3)]
    for c in conns:
        c.send(request())
        assert (await c.response()).status == 200
    assert len(srv.server.connections) == 3
    srv.server.stop()
    await asyncio.wait_for(srv.server.close_all_connections(), 2)
    assert not srv.server.connections
    for c in conns:
        assert await c.is_closed()
        c.close()


async def test_tcp_nodelay_on_accepted_sockets(serve, loop_factory) -> None:
    class NoDelay(RequestHandler):
        def get(self) -> None:
            sock = self.request.connection.transport.get_extra_info("socket")  # type: ignore[union-attr]
            self.write(str(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))

    srv = await serve(Application([(r"/", NoDelay)]))
    async with httpx.AsyncClient() as client:
        assert (await client.get(srv.base_url + "/")).text != "0"


# -- the pre-Application callable ----------------------------------------------------------


def legacy_callback(request: HTTPServerRequest) -> None:
    conn = request.connection
    assert conn is not None
    if request.path == "/chunked":
        conn.write_headers(ResponseStartLine("HTTP/1.1", 200, "OK"), HTTPHeaders())
        conn.write(b"one,")
        conn.write(b"two")
        conn.finish()
        return
    body = b"legacy " + request.method.encode() + b" " + request.uri.encode()
    body += b" " + request.body
    conn.write_headers(
        ResponseStartLine("HTTP/1.1", 200, "OK"),
        HTTPHeaders({"Content-Length": str(len(body)), "X-Legacy": "yes"}),
        body,
    )
    conn.finish()


async def test_plain_callable_request_callback(serve, loop_factory) -> None:
    srv = await serve(legacy_callback)
    async with httpx.AsyncClient() as client:
        r1 = await client.get(srv.base_url + "/a?b=c")
        r2 = await client.post(srv.base_url + "/p", content=b"payload")
        r3 = await client.get(srv.base_url + "/chunked")
    assert r1.text == "legacy GET /a?b=c " and r1.headers["x-legacy"] == "yes"
    assert r2.text == "legacy POST /p payload"
    assert r3.text == "one,two" and r3.headers["transfer-encoding"] == "chunked"
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/x") + request("GET", "/y"))
    assert (await conn.response()).body == b"legacy GET /x "
    assert (await conn.response()).body == b"legacy GET /y "
    conn.close()


# -- start(num_processes=2) ----------------------------------------------------------------

_FORK_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, sys.argv[2])
    from tornadish.httpserver import HTTPServer
    from tornadish.ioloop import IOLoop
    from tornadish.web import Application, RequestHandler

    class Pid(RequestHandler):
        def get(self):
            self.write(str(os.getpid()))

    server = HTTPServer(Application([(r"/", Pid)]))
    server.bind(int(sys.argv[1]), "127.0.0.1")
    server.start(2)
    IOLoop.current().start()
    """
)


def _get_pid(port: int) -> int | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError:
        return None
    if not data.startswith(b"HTTP/1.1 200"):
        return None
    return int(data.split(b"\r\n\r\n", 1)[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork test on Linux only")
def test_start_two_processes(tmp_path) -> None:
    port = free_port()
    script = tmp_path / "fork_server.py"
    script.write_text(_FORK_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(port), str(REPO)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(pids) < 2:
            pid = _get_pid(port)
            if pid is None:
                time.sleep(0.05)
                continue
            pids.add(pid)
            if len(pids) == 1:
                for _ in range(20):  # give the other worker a chance
                    p = _get_pid(port)
                    if p is not None:
                        pids.add(p)
                break
        assert pids, "no worker answered"
        assert proc.pid not in pids  # answered by children, not the supervisor
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        time.sleep(0.05)
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)  # the workers went with it
        assert _get_pid(port) is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


# -- on_connection_close --------------------------------------------------------------------


def long_poll_app(state: dict[str, Any]) -> Application:
    class LongPoll(RequestHandler):
        async def get(self) -> None:
            state["started"].set()
            await state["wake"].wait()
            state["resumed"] = True

        def on_connection_close(self) -> None:
            state["closed"].set()
            state["wake"].set()

    class Quick(RequestHandler):
        def get(self) -> None:
            self.write("quick")

        def on_connection_close(self) -> None:
            state["quick_closed"] = True

    return Application([(r"/poll", LongPoll), (r"/quick", Quick)])


def _poll_state() -> dict[str, Any]:
    return {
        "started": asyncio.Event(),
        "wake": asyncio.Event(),
        "closed": asyncio.Event(),
        "resumed": False,
        "quick_closed": False,
    }


@pytest.mark.parametrize("how", ["close", "half-close"])
async def test_on_connection_close_long_poll(serve, loop_factory, caplog, how) -> None:
    state = _poll_state()
    srv = await serve(long_poll_app(state))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/poll"))
    await asyncio.wait_for(state["started"].wait(), 1)
    assert not state["closed"].is_set()
    if how == "close":
        conn.close()
    else:
        conn.half_close()
    await asyncio.wait_for(state["closed"].wait(), 1)
    await asyncio.sleep(0.02)
    assert state["resumed"]  # the handler finished writing to a gone client without fuss
    conn.close()
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_on_connection_close_not_called_after_complete_response(serve) -> None:
    state = _poll_state()
    srv = await serve(long_poll_app(state))
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/quick"))
    assert (await conn.response()).body == b"quick"
    conn.close()
    await asyncio.sleep(0.05)
    assert not state["quick_closed"]


# -- per-request limits from prepare() (Tornado's HTTP1Connection API) ------------------------


def limits_app() -> Application:
    class Buffered(RequestHandler):
        def put(self) -> None:
            self.write(str(len(self.request.body)))

    @stream_request_body
    class Streaming(RequestHandler):
        def prepare(self) -> None:
            self.bytes_read = 0
            conn: Any = self.request.connection
            if "expected_size" in self.request.arguments:
                conn.set_max_body_size(int(self.get_argument("expected_size")))
            if "body_timeout" in self.request.arguments:
                conn.set_body_timeout(float(self.get_argument("body_timeout")))

        def data_received(self, chunk: bytes) -> None:
            self.bytes_read += len(chunk)

        def put(self) -> None:
            self.write(str(self.bytes_read))

    return Application([(r"/buffered", Buffered), (r"/streaming", Streaming)])


async def test_body_limits_small_body(serve) -> None:
    srv = await serve(limits_app(), max_body_size=4096)
    async with httpx.AsyncClient() as client:
        assert (await client.put(srv.base_url + "/buffered", content=b"a" * 4096)).text == "4096"
        assert (await client.put(srv.base_url + "/streaming", content=b"a" * 4096)).text == "4096"


@pytest.mark.parametrize("path", ["/buffered", "/streaming"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_body_limits_large_body_413(serve, caplog, path, framing) -> None:
    capture_general(caplog)
    srv = await serve(limits_app(), max_body_size=4096)
    conn = await RawConn.open(srv.port)
    if framing == "chunked":
        conn.send(request("PUT", path, {"Transfer-Encoding": "chunked"}, chunked(b"a" * 10240)))
    else:
        conn.send(request("PUT", path, body=b"a" * 10240))
    resp = await conn.response()
    assert resp.status == 413
    assert await conn.is_closed()
    conn.close()
    assert_logged(caplog, 413)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_body_limits_streaming_override(serve, framing) -> None:
    srv = await serve(limits_app(), max_body_size=4096)
    conn = await RawConn.open(srv.port)
    target = "/streaming?expected_size=10240"
    if framing == "chunked":
        conn.send(request("PUT", target, {"Transfer-Encoding": "chunked"}, chunked(b"a" * 10240)))
    else:
        conn.send(request("PUT", target, body=b"a" * 10240))
    resp = await conn.response()
    assert resp.status == 200 and resp.body == b"10240"
    # The override is per request: the next one has the server's limit again.
    conn.send(request("PUT", "/streaming", body=b"a" * 10240))
    assert (await conn.response()).status == 413
    conn.close()


async def test_body_timeout_override(serve, caplog) -> None:
    capture_general(caplog)
    srv = await serve(limits_app(), body_timeout=3600)
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", "/streaming?body_timeout=0.1", {"Content-Length": "42"}))
    resp = await conn.response(timeout=1)
    assert resp.status == 408
    assert await conn.is_closed()
    conn.close()
    assert_logged(caplog, 408)


async def test_legacy_raw_write_interface(serve, loop_factory) -> None:
    """Tornado's oldest interface: the callback writes the status line itself."""

    def handle(request: HTTPServerRequest) -> None:
        conn: Any = request.connection
        message = b"Hello world"
        conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(message))
        conn.write(message)
        conn.finish()

    srv = await serve(handle)
    async with httpx.AsyncClient() as client:
        r = await client.get(srv.base_url + "/")
        assert r.content == b"Hello world"
        r = await client.get(srv.base_url + "/again")
        assert r.content == b"Hello world"


async def test_callable_that_raises_gets_500_and_is_logged(serve, caplog, loop_factory) -> None:
    def handle(request: HTTPServerRequest) -> None:
        if request.path == "/boom":
            raise ZeroDivisionError("boom")
        legacy_callback(request)

    srv = await serve(handle)
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", "/boom"))
    resp = await conn.response()
    assert resp.status == 500
    assert await conn.is_closed()
    conn.close()
    assert any(
        r.name == "tornadish.application" and r.exc_info and r.exc_info[0] is ZeroDivisionError
        for r in caplog.records
    )
    assert not [r for r in caplog.records if r.name == "asyncio"]
    async with httpx.AsyncClient() as client:
        assert (await client.get(srv.base_url + "/ok")).text == "legacy GET /ok "


async def test_body_limits_override_from_async_prepare(serve) -> None:
    @stream_request_body
    class AsyncPrepare(RequestHandler):
        async def prepare(self) -> None:
            await asyncio.sleep(0.01)
            self.request.connection.set_max_body_size(10240)  # type: ignore[union-attr]
            self.n = 0

        def data_received(self, chunk: bytes) -> None:
            self.n += len(chunk)

        def put(self) -> None:
            self.write(str(self.n))

    srv = await serve(Application([(r"/", AsyncPrepare)]), max_body_size=4096)
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", "/", body=b"a" * 10240))
    resp = await conn.response()
    conn.close()
    assert resp.status == 200 and resp.body == b"10240"


# -- decompress_request --------------------------------------------------------------------


def gzip_app() -> Application:
    class Info(RequestHandler):
        def post(self) -> None:
            self.write(
                {
                    "body": self.request.body.decode("latin-1"),
                    "args": {k: self.get_body_argument(k) for k in self.request.body_arguments},
                    "ce": self.request.headers.get("Content-Encoding"),
                    "consumed": self.request.headers.get("X-Consumed-Content-Encoding"),
                }
            )

    @stream_request_body
    class Streamed(RequestHandler):
        def prepare(self) -> None:
            self.data = b""

        async def data_received(self, chunk: bytes) -> None:
            assert len(chunk) <= 65536
            self.data += chunk
            await asyncio.sleep(0)

        def put(self) -> None:
            self.write({"len": len(self.data), "ok": self.data == b"0123456789" * 50_000})

    return Application([(r"/", Info), (r"/stream", Streamed)])


async def test_decompress_request_gzip(serve, loop_factory) -> None:
    import gzip

    srv = await serve(gzip_app(), decompress_request=True)
    body = gzip.compress(b"foo=bar&baz=qux")
    async with httpx.AsyncClient() as client:
        r = await client.post(
            srv.base_url + "/",
            content=body,
            headers={
                "Content-Encoding": "gzip",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert r.json() == {
            "body": "foo=bar&baz=qux",
            "args": {"foo": "bar", "baz": "qux"},
            "ce": None,
            "consumed": "gzip",
        }
        # Larger than one decompression chunk, streamed to the handler in bounded pieces.
        big = gzip.compress(b"0123456789" * 50_000)
        r = await client.put(
            srv.base_url + "/stream", content=big, headers={"Content-Encoding": "gzip"}
        )
        assert r.json() == {"len": 500_000, "ok": True}
        # Plain bodies are untouched.
        r = await client.post(srv.base_url + "/", content=b"plain")
        assert r.json()["body"] == "plain" and r.json()["consumed"] is None


async def test_decompress_request_off_by_default(serve) -> None:
    import gzip

    srv = await serve(gzip_app())
    body = gzip.compress(b"hello")
    async with httpx.AsyncClient() as client:
        r = await client.post(
            srv.base_url + "/", content=body, headers={"Content-Encoding": "gzip"}
        )
    # Without the setting the body is the application's business (Tornado's web layer
    # refuses to parse it as a form, but hands it over).
    assert r.status_code == 200


async def test_decompress_request_bad_gzip_400(serve, caplog) -> None:
    capture_general(caplog)
    srv = await serve(gzip_app(), decompress_request=True)
    conn = await RawConn.open(srv.port)
    conn.send(request("POST", "/", {"Content-Encoding": "gzip"}, b"this is not gzip"))
    resp = await conn.response()
    assert resp.status == 400
    assert await conn.is_closed()
    conn.close()
    assert_logged(caplog, 400)


async def _trickle(conn: RawConn, nbytes: int, every: float) -> None:
    for _ in range(nbytes):
        await asyncio.sleep(every)
        try:
            conn.send(b"a")
        except (ConnectionError, OSError, RuntimeError):
            return


@pytest.mark.parametrize("path", ["/buffered", "/streaming"])
async def test_trickled_body_is_408_once_too_slow(serve, caplog, path) -> None:
    # Never silent for body_timeout, but far below min_body_rate: closed once the body
    # has taken body_timeout (Tornado's default holds it for ever).
    capture_general(caplog)
    srv = await serve(limits_app(), body_timeout=0.5, min_body_rate=100)
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", path, {"Content-Length": "1000"}))
    started = time.monotonic()
    trickle = asyncio.ensure_future(_trickle(conn, 1000, 0.1))
    resp = await conn.response(timeout=5)
    assert resp.status == 408
    assert time.monotonic() - started < 3
    trickle.cancel()
    conn.close()
    assert_logged(caplog, 408)


async def test_min_body_rate_zero_allows_trickles(serve) -> None:
    srv = await serve(limits_app(), body_timeout=0.3, min_body_rate=0)
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", "/buffered", {"Content-Length": "10"}))
    for _ in range(10):
        await asyncio.sleep(0.1)
        conn.send(b"a")
    resp = await conn.response(timeout=5)
    assert (resp.status, resp.body) == (200, b"10")
    conn.close()


async def test_time_the_handler_spends_is_not_held_against_the_body(serve) -> None:
    # A streaming handler that takes its time with each chunk pauses reading; the rate
    # is judged only while the server is reading.
    class Slow(RequestHandler):
        def initialize(self) -> None:
            self.size = 0

        async def data_received(self, chunk: bytes) -> None:
            self.size += len(chunk)
            await asyncio.sleep(0.4)

        def put(self) -> None:
            self.write(str(self.size))

    srv = await serve(
        Application([(r"/slow", stream_request_body(Slow))]), body_timeout=0.3, min_body_rate=1e6
    )
    conn = await RawConn.open(srv.port)
    conn.send(request("PUT", "/slow", {"Content-Length": "3"}))
    for _ in range(3):
        conn.send(b"a")
        await asyncio.sleep(0.05)
    resp = await conn.response(timeout=10)
    assert (resp.status, resp.body) == (200, b"3")
    conn.close()
