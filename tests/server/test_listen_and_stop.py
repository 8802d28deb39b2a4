"""Listening and stopping: ``listen`` before and inside a running loop, ``Application.listen``,
``bind``/``start``, ``add_sockets`` and Unix sockets, ``stop``, ``close_all_connections``,
TCP_NODELAY."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from tornadish import netutil
from tornadish.httpserver import HTTPServer
from tornadish.web import Application, RequestHandler

from tests.support.rawhttp import RawConn, request
from tests.support.server_app import app
from tests.support.servers import free_port


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
