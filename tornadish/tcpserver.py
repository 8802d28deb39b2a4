"""Tornado's ``tornado.tcpserver``: :class:`TCPServer`, a non-blocking single-threaded
TCP server for custom protocols.

Subclass it and override :meth:`TCPServer.handle_stream`, which gets an
:class:`~tornadish.iostream.IOStream` (an :class:`~tornadish.iostream.SSLIOStream` when
``ssl_options`` is given) per accepted connection::

    class EchoServer(TCPServer):
        async def handle_stream(self, stream, address):
            while True:
                try:
                    data = await stream.read_until(b"\\n")
                    await stream.write(data)
                except StreamClosedError:
                    break

    server = EchoServer()
    server.listen(8888)

``listen`` is the simple way; ``bind`` + ``start(n)`` forks ``n`` worker processes that
share the sockets; ``add_sockets`` takes sockets made by
:func:`~tornadish.netutil.bind_sockets`.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tornadish import gen, process
from tornadish._io.iostream import IOStream, SSLIOStream
from tornadish.ioloop import IOLoop
from tornadish.log import app_log
from tornadish.netutil import (
    _DEFAULT_BACKLOG,
    add_accept_handler,
    bind_sockets,
    check_server_ssl_options,
    ssl_wrap_socket,
)
from tornadish.util import errno_from_exception

__all__ = ["TCPServer"]


class TCPServer:
    """A non-blocking, single-threaded TCP server; override :meth:`handle_stream`.

    ``ssl_options`` (an :class:`ssl.SSLContext`, or Tornado's dict of
    ``ssl.wrap_socket`` arguments, which must name an existing ``certfile``) makes
    every connection TLS. ``max_buffer_size`` and ``read_chunk_size`` are passed to each
    stream.
    """

    def __init__(
        self,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
    ) -> None:
        self.ssl_options = ssl_options
        self._sockets: dict[int, socket.socket] = {}  # fd -> socket
        self._handlers: dict[int, Callable[[], None]] = {}  # fd -> stop accepting
        self._pending_sockets: list[socket.socket] = []
        self._started = False
        self._stopped = False
        self.max_buffer_size = max_buffer_size
        self.read_chunk_size = read_chunk_size

        check_server_ssl_options(self.ssl_options)

    def listen(
        self,
        port: int,
        address: str | None = None,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = _DEFAULT_BACKLOG,
        flags: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Accept connections on ``port`` (``address``: ``""``/``None`` for every
        interface); the arguments are :func:`~tornadish.netutil.bind_sockets`'. Needs
        the loop to run (``await asyncio.Event().wait()`` or ``IOLoop.start()``)."""
        sockets = bind_sockets(
            port, address=address, family=family, backlog=backlog, flags=flags,
            reuse_port=reuse_port,
        )  # fmt: skip
        self.add_sockets(sockets)

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        """Accept connections on listening ``sockets`` (as made by ``bind_sockets``)."""
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = add_accept_handler(sock, self._handle_connection)

    def add_socket(self, socket: socket.socket) -> None:
        """:meth:`add_sockets` for a single socket."""
        self.add_sockets([socket])

    def bind(
        self,
        port: int,
        address: str | None = None,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = _DEFAULT_BACKLOG,
        flags: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Bind to ``port`` now, and accept once :meth:`start` is called (at once if it
        already has been). May be called several times."""
        sockets = bind_sockets(
            port, address=address, family=family, backlog=backlog, flags=flags,
            reuse_port=reuse_port,
        )  # fmt: skip
        if self._started:
            self.add_sockets(sockets)
        else:
            self._pending_sockets.extend(sockets)

    def start(self, num_processes: int | None = 1, max_restarts: int | None = None) -> None:
        """Start accepting on the sockets given to :meth:`bind`.

        ``num_processes`` other than 1 forks that many workers first (``None`` or
        ``<= 0``: one per CPU), restarted at most ``max_restarts`` times in all; each
        must then make its own ``IOLoop``.
        """
        assert not self._started
        self._started = True
        if num_processes != 1:
            process.fork_processes(num_processes, max_restarts)
        sockets = self._pending_sockets
        self._pending_sockets = []
        self.add_sockets(sockets)

    def stop(self) -> None:
        """Stop accepting and close the listening sockets. Connections in progress are
        left alone. Calling it again does nothing."""
        if self._stopped:
            return
        self._stopped = True
        for fd, sock in self._sockets.items():
            assert sock.fileno() == fd
            self._handlers.pop(fd)()  # stop accepting before closing the socket
            sock.close()

    def handle_stream(self, stream: IOStream, address: Any) -> Awaitable[None] | None:
        """Override to handle a new :class:`IOStream` from an incoming connection.

        May be a coroutine; its exceptions are logged. For a TLS server the handshake
        may not be finished yet: ``await stream.wait_for_handshake()`` when the
        certificate matters, otherwise the first read or write waits for it.
        """
        raise NotImplementedError()

    def _handle_connection(self, connection: socket.socket, address: Any) -> None:
        if self.ssl_options is not None:
            try:
                connection = ssl_wrap_socket(
                    connection, self.ssl_options, server_side=True, do_handshake_on_connect=False
                )
            except ssl.SSLError as err:
                if err.args[0] == ssl.SSL_ERROR_EOF:
                    connection.close()
                    return
                raise
            except OSError as err:
                # The peer went away before we wrapped (ECONNABORTED; EINVAL on macOS).
                if errno_from_exception(err) in (errno.ECONNABORTED, errno.EINVAL):
                    connection.close()
                    return
                raise
        try:
            stream: IOStream
            if self.ssl_options is not None:
                stream = SSLIOStream(
                    connection,
                    max_buffer_size=self.max_buffer_size,
                    read_chunk_size=self.read_chunk_size,
                )
            else:
                stream = IOStream(
                    connection,
                    max_buffer_size=self.max_buffer_size,
                    read_chunk_size=self.read_chunk_size,
                )
            future = self.handle_stream(stream, address)
            if future is not None:
                IOLoop.current().add_future(gen.convert_yielded(future), _result)
        except Exception:
            app_log.error("Error in connection callback", exc_info=True)


def _result(future: Any) -> None:
    # Re-raise in the loop's callback so the IOLoop logs it ("Exception in callback").
    future.result()
