"""Servers for tests: a free loopback port, and an HTTPServer started inside the test's loop."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from tornadish.httpserver import HTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningServer:
    """An HTTPServer started on 127.0.0.1 inside the test's loop."""

    def __init__(self, server: HTTPServer, port: int) -> None:
        self.server = server
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"

    async def raw(self, data: bytes, *, timeout: float = 5.0, half_close: bool = False) -> bytes:
        """Send raw bytes on a fresh connection and read until the server closes."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(data)
            if half_close:
                writer.write_eof()
            await writer.drain()
            return await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()


async def start_server(app: Any, **kwargs: Any) -> RunningServer:
    """Start ``app`` (an Application or request callback) on a free port."""
    server = HTTPServer(app, **kwargs)
    sockets = __import__("tornadish.netutil", fromlist=["bind_sockets"]).bind_sockets(
        0, "127.0.0.1"
    )
    server.add_sockets(sockets)
    await server.wait_started()
    return RunningServer(server, sockets[0].getsockname()[1])
