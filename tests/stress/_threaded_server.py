"""A tornadish server on its own thread and loop, for tests that drive it with plain
blocking sockets (hypothesis properties cannot await).

Everything the server logs at error level, and everything its loop's exception
handler sees, is recorded: client garbage must never produce either.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

from tornadish.httpserver import HTTPServer
from tornadish.netutil import bind_sockets


class ErrorRecorder(logging.Handler):
    """Collects error records (with their tracebacks) from every logger."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()} {record.exc_info or ''}")


class ThreadedServer:
    """``with ThreadedServer(app, **server_kwargs) as srv:`` — ``srv.port``."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        self.app = app
        self.kwargs = kwargs
        self.loop = asyncio.new_event_loop()
        self.errors = ErrorRecorder()
        self.port = 0
        self.server: HTTPServer | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedServer:
        logging.getLogger().addHandler(self.errors)
        self.loop.set_exception_handler(self._loop_error)
        self._thread.start()
        self.call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
            logging.getLogger().removeHandler(self.errors)

    def call(self, coro: Any, timeout: float = 30) -> Any:
        """Run ``coro`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        self.server = HTTPServer(self.app, **self.kwargs)
        sockets = bind_sockets(0, "127.0.0.1")
        self.server.add_sockets(sockets)
        await self.server.wait_started()
        self.port = sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self.server is not None
        self.server.stop()
        await asyncio.wait_for(self.server.close_all_connections(), 10)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.errors.lines.append(f"loop exception handler: {context}")

    def exchange(self, data: bytes, *, timeout: float = 10.0, half_close: bool = True) -> bytes:
        """Send ``data`` on a fresh connection, half-close, read until the server closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            try:
                sock.sendall(data)
                if half_close:
                    sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server may answer and close before reading it all
            chunks = []
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
