"""Tornado's ``IOStream`` on asyncio: streams over sockets (:class:`IOStream`,
:class:`SSLIOStream`), :func:`adopt_transport` for a transport another protocol was
using, and the rest of the stream family re-exported (:class:`BaseIOStream` and the
errors from :mod:`.stream_base`, :class:`PipeIOStream` from :mod:`.pipe_stream`,
:class:`StreamBuffer` from :mod:`.stream_buffer`).

Rules of this module:

1. A socket becomes a transport through the loop's public calls only:
   ``loop.sock_connect`` then ``create_connection(sock=...)`` for ``connect()``,
   ``create_connection(sock=...)`` (or ``connect_accepted_socket`` for the server side
   of TLS) for a socket that is already connected, ``loop.start_tls`` for
   ``start_tls()``. Each runs in one task per stream (the attach task); until it is
   done, writes wait in the stream's buffer and reads stay pending.
2. Whoever holds the socket closes it: the stream while the attach task has not run,
   the task while it is connecting, the transport once it has been handed one.
3. Tornado hands TLS streams an ``ssl.SSLSocket`` made with
   ``do_handshake_on_connect=False``; asyncio does TLS itself on a plain socket, so such
   a socket is unwrapped (its context, side and server name kept) before the handshake.
   ``stream.socket`` is then a view that answers the ``SSLSocket`` questions
   (``cipher()``, ``getpeercert()``, ...) from the transport's ``SSLObject``.
"""

from __future__ import annotations

import asyncio
import errno
import socket as socket_module
import ssl
from typing import Any, TypeVar, cast

from tornadish._io.pipe_stream import PipeIOStream
from tornadish._io.stream_base import (
    BOTH,
    CONNECTING,
    HANDED_OVER,
    NOT_STARTED,
    BaseIOStream,
    StreamBufferFullError,
    StreamClosedError,
    StreamProtocol,
    UnsatisfiableReadError,
)
from tornadish._io.stream_buffer import StreamBuffer
from tornadish.log import gen_log
from tornadish.netutil import _client_ssl_defaults, _server_ssl_defaults, ssl_options_to_context

__all__ = [
    "BaseIOStream",
    "IOStream",
    "PipeIOStream",
    "SSLIOStream",
    "StreamBuffer",
    "StreamBufferFullError",
    "StreamClosedError",
    "UnsatisfiableReadError",
    "adopt_transport",
    "closed_iostream",
]

_S = TypeVar("_S", bound="IOStream")


def _connected(sock: socket_module.socket) -> bool:
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


def _is_ip_literal(host: str) -> bool:
    for family in (socket_module.AF_INET, socket_module.AF_INET6):
        try:
            socket_module.inet_pton(family, host.split("%", 1)[0])
        except (OSError, ValueError):
            continue
        return True
    return False


def _resolve(sock: socket_module.socket, address: Any) -> Any:
    # Tornado's connect() resolves a host name synchronously (socket.connect does);
    # asyncio's sock_connect would use a thread for it. Same blocking, no thread.
    if sock.family not in (socket_module.AF_INET, socket_module.AF_INET6):
        return address
    host = address[0]
    if not isinstance(host, str) or _is_ip_literal(host):
        return address
    infos = socket_module.getaddrinfo(host, address[1], sock.family, socket_module.SOCK_STREAM)
    return infos[0][4]


class IOStream(BaseIOStream):
    r"""A stream over a socket (Tornado's ``IOStream``).

    ``socket`` may be connected already (one from ``accept()``, a ``socketpair()``
    end), or not, and then :meth:`connect` connects it.

    >>> async def main():  # doctest: +SKIP
    ...     stream = IOStream(socket.socket())
    ...     await stream.connect(("127.0.0.1", 8888))
    ...     await stream.write(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
    ...     head = await stream.read_until(b"\r\n\r\n")
    ...     body = await stream.read_until_close()
    """

    def __init__(
        self,
        socket: socket_module.socket,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
    ) -> None:
        super().__init__(max_buffer_size, read_chunk_size, max_write_buffer_size)
        self._sock: socket_module.socket | None = socket
        self._pending_transport: asyncio.Transport | None = None  # start_tls's, not begun
        self._tls_successor: SSLIOStream | None = None  # start_tls before we were ready
        socket.setblocking(False)
        if _connected(socket):
            self._attach_task = self._loop.create_task(self._attach_socket(socket, None))

    @property
    def socket(self) -> socket_module.socket:
        """The socket (None once the stream is closed, as in Tornado)."""
        return self._sock  # type: ignore[return-value]

    def fileno(self) -> Any:
        """The socket object (what Tornado's ``IOStream.fileno`` returns)."""
        return self._sock

    def _close_file(self) -> None:
        transport = self._pending_transport
        if transport is not None:
            self._pending_transport = None
            transport.close()
        elif self._sock is not None and self._attach_phase != HANDED_OVER:
            self._sock.close()

    def _attached(self, transport: asyncio.BaseTransport, role: int) -> None:
        successor = self._tls_successor
        if successor is None:
            super()._attached(transport, role)
            return
        # start_tls() came before the transport: the handshake starts now.
        self._tls_successor = None
        transport.pause_reading()  # type: ignore[attr-defined]
        successor._pending_transport = transport  # type: ignore[assignment]
        successor._attach_phase = NOT_STARTED
        successor._attach_task = self._loop.create_task(successor._upgrade(transport))  # type: ignore[arg-type]

    def _attach_failed(self, error: BaseException) -> None:
        successor, self._tls_successor = self._tls_successor, None
        if successor is not None:
            successor._attach_failed(error)
        super()._attach_failed(error)

    def _signal_closed(self) -> None:
        super()._signal_closed()
        self._sock = None

    def set_nodelay(self, value: bool) -> None:
        """Turn Nagle's algorithm off (``value=True``: send small writes at once)."""
        sock = self._sock
        if sock is None or sock.family not in (socket_module.AF_INET, socket_module.AF_INET6):
            return
        try:
            sock.setsockopt(socket_module.IPPROTO_TCP, socket_module.TCP_NODELAY, int(value))
        except OSError as e:
            # A socket closing under us refuses it; nothing is lost.
            if e.errno != errno.EINVAL and not self._is_connreset(e):
                raise

    # -- connecting -------------------------------------------------------------------

    def connect(self: _S, address: Any, server_hostname: str | None = None) -> asyncio.Future[_S]:
        """Connect the (unconnected) socket to ``address``; the future resolves to the
        stream itself.

        Writes made meanwhile are sent once connected. A host name is resolved
        synchronously, as Tornado does; :class:`~tornadish.tcpclient.TCPClient` resolves
        asynchronously. ``server_hostname`` is for TLS (see :class:`SSLIOStream`).
        """
        self._connecting = True
        future: asyncio.Future[_S] = self._loop.create_future()
        self._connect_future = future
        self._attach_task = self._loop.create_task(self._connect(address, server_hostname))
        return future

    async def _connect(self, address: Any, server_hostname: str | None) -> None:
        sock = self._sock
        assert sock is not None
        self._attach_phase = CONNECTING
        try:
            await self._loop.sock_connect(sock, _resolve(sock, address))
        except asyncio.CancelledError:
            sock.close()  # closed while connecting: the socket is still ours
            raise
        except Exception as e:
            sock.close()
            self._attach_failed(e)
            return
        await self._attach_socket(sock, server_hostname)

    def _factory(self) -> StreamProtocol:
        self._attach_phase = HANDED_OVER
        return self._protocol

    async def _attach_socket(self, sock: socket_module.socket, server_hostname: str | None) -> None:
        try:
            await self._loop.create_connection(self._factory, sock=sock)
        except Exception as e:
            if self._attach_phase != HANDED_OVER:
                sock.close()
            self._attach_failed(e)

    # -- TLS ----------------------------------------------------------------------------

    def start_tls(
        self,
        server_side: bool,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> asyncio.Future[SSLIOStream]:
        """Switch to TLS (STARTTLS); the future resolves to a new :class:`SSLIOStream`
        once the handshake is done, and this stream is of no further use.

        Only on an idle stream: no read or write pending, nothing buffered. The close
        callback moves to the new stream. ``ssl_options`` is a context or Tornado's
        dict; ``server_hostname`` is checked against the peer's certificate. Cancelling
        the future closes the new stream.
        """
        transport = self._transport
        attaching = transport is None and self._attach_task is not None
        if (
            self.reading()
            or self.writing()
            or self._connect_future is not None
            or self._closed
            or self._read_buffer
            or (transport is None and not attaching)
            or self._rtransport is not transport
        ):
            raise ValueError("IOStream is not idle; cannot convert to SSL")
        if ssl_options is None:
            ssl_options = _server_ssl_defaults() if server_side else _client_ssl_defaults()
        context = ssl_options_to_context(ssl_options, server_side=server_side)
        tls = _new_ssl_stream(self._sock, context, server_side, server_hostname)
        tls.max_buffer_size = self.max_buffer_size
        tls.read_chunk_size = self.read_chunk_size
        tls.max_write_buffer_size = self.max_write_buffer_size
        tls._close_callback = self._close_callback
        future: asyncio.Future[SSLIOStream] = self._loop.create_future()
        tls._ssl_connect_future = future
        future.add_done_callback(lambda f: tls.close() if f.cancelled() else None)
        # This stream lets go of the transport without closing it; nothing it still
        # reads would reach anyone, so reading stops until the handshake starts.
        self._close_callback = None
        self._closed = True
        self._sock = None
        if transport is None:
            # Our transport is still coming: _attached() passes it on.
            self._tls_successor = tls
            tls._attach_phase = HANDED_OVER  # the socket is our attach task's
            return future
        self._transport = self._rtransport = None
        if not self._reading_paused:
            self._reading_paused = True
            transport.pause_reading()
        tls._pending_transport = transport
        tls._attach_task = self._loop.create_task(tls._upgrade(transport))
        return future


class SSLIOStream(IOStream):
    """A stream over TLS (Tornado's ``SSLIOStream``).

    As in Tornado, a connected socket may come wrapped by
    ``context.wrap_socket(sock, server_side=..., do_handshake_on_connect=False)``; an
    unconnected one is wrapped by :meth:`connect` (with ``ssl_options``: a context or
    Tornado's dict; the client defaults check the certificate). tornadish also takes a
    plain connected socket with ``server_side=True`` and a server context. The
    handshake starts at once; :meth:`wait_for_handshake` waits for it.

    >>> stream = SSLIOStream(socket.socket(), ssl_options=client_context)  # doctest: +SKIP
    >>> await stream.connect(("example.com", 443), server_hostname="example.com")  # doctest: +SKIP
    """

    def __init__(
        self,
        socket: socket_module.socket,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
        *,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        server_side: bool | None = None,
    ) -> None:
        server_hostname: str | None = None
        if isinstance(socket, ssl.SSLSocket):
            if ssl_options is None:
                ssl_options = socket.context
            if server_side is None:
                server_side = socket.server_side
            server_hostname = socket.server_hostname
            socket = _unwrap(socket)
        side = bool(server_side)
        if ssl_options is None:
            ssl_options = _server_ssl_defaults() if side else _client_ssl_defaults()
        self._ssl_context = ssl_options_to_context(ssl_options, server_side=side)
        self._server_side = side
        self._server_hostname = server_hostname
        self._handshake_done = False
        self._socket_view: _TLSSocket | None = None
        super().__init__(socket, max_buffer_size, read_chunk_size, max_write_buffer_size)

    @property
    def socket(self) -> ssl.SSLSocket:
        """The socket, answering ``SSLSocket``'s questions (``cipher()`` is None until
        the handshake is done); None once the stream is closed."""
        if self._sock is None:
            return None  # type: ignore[return-value]
        view = self._socket_view
        if view is None or view._sock is not self._sock:
            view = self._socket_view = _TLSSocket(self._sock, self)
        return cast(ssl.SSLSocket, view)

    def connect(self: _S, address: Any, server_hostname: str | None = None) -> asyncio.Future[_S]:
        """Connect, then do the TLS handshake; the future resolves to the stream after
        it (or fails with the handshake's ``ssl.SSLError``). ``server_hostname`` is sent
        (SNI) and checked against the certificate, where the context checks names."""
        tls = cast(SSLIOStream, self)
        tls._server_hostname = server_hostname
        IOStream.connect(self, address, server_hostname).add_done_callback(_retrieve)
        return tls.wait_for_handshake()  # type: ignore[return-value]

    def wait_for_handshake(self) -> asyncio.Future[SSLIOStream]:
        """Resolves to the stream once the TLS handshake is done (fails with its
        error). One waiter at a time: ``RuntimeError`` while one is pending."""
        if self._ssl_connect_future is not None:
            raise RuntimeError("Already waiting")
        future: asyncio.Future[SSLIOStream] = self._loop.create_future()
        if self._handshake_done:
            future.set_result(self)
        elif self._closed:
            future.set_exception(self.error or ssl.SSLError("stream closed before handshake"))
            future.exception()
        else:
            self._ssl_connect_future = future
        return future

    def _on_ready(self) -> None:
        self._handshake_done = True
        future = self._ssl_connect_future
        if future is not None:
            self._ssl_connect_future = None
            if not future.done():
                future.set_result(self)

    async def _attach_socket(self, sock: socket_module.socket, server_hostname: str | None) -> None:
        loop = self._loop
        context = self._ssl_context
        where = _describe(sock)  # for the log line: the transport closes the socket
        try:
            if self._server_side:
                await loop.connect_accepted_socket(self._factory, sock, ssl=context)
            else:
                # "": no name to send or check (asyncio wants one given with sock=).
                name = server_hostname or self._server_hostname or ""
                await loop.create_connection(
                    self._factory, sock=sock, ssl=context, server_hostname=name
                )
        except Exception as e:
            if self._attach_phase != HANDED_OVER:
                sock.close()
            self._handshake_failed(e, where)

    async def _upgrade(self, transport: asyncio.Transport) -> None:
        self._pending_transport = None
        self._attach_phase = HANDED_OVER
        if self._closed:
            transport.close()
            return
        name = None if self._server_side else self._server_hostname
        where = _describe(self._sock)
        try:
            tls = await self._loop.start_tls(
                transport, self._protocol, self._ssl_context,
                server_side=self._server_side, server_hostname=name,
            )  # fmt: skip
        except Exception as e:
            transport.close()
            self._handshake_failed(e, where)
            return
        if tls is None:  # the transport closed meanwhile
            self._attach_failed(ConnectionResetError(errno.ECONNRESET, "connection lost"))
            return
        self._attached(tls, BOTH)

    def _handshake_failed(self, error: Exception, where: tuple[Any, Any]) -> None:
        if isinstance(error, (ssl.SSLError, ssl.CertificateError)):
            gen_log.warning("SSL Error on %s %s: %s", where[0], where[1], error)
        self._attach_failed(error)

    def _is_connreset(self, exc: BaseException) -> bool:
        if isinstance(exc, ssl.SSLError) and exc.args and exc.args[0] == ssl.SSL_ERROR_EOF:
            return True
        return super()._is_connreset(exc)


def _describe(sock: Any) -> tuple[Any, Any]:
    """(descriptor, peer) of a socket, for a log line."""
    try:
        return sock.fileno(), sock.getpeername()
    except Exception:
        return getattr(sock, "fileno", lambda: None)(), "(not connected)"


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _unwrap(sock: ssl.SSLSocket) -> socket_module.socket:
    """The plain socket under an ``SSLSocket`` whose handshake has not started."""
    family, kind, proto = sock.family, sock.type, sock.proto
    return socket_module.socket(family, kind, proto, fileno=sock.detach())


def _new_ssl_stream(
    sock: Any, context: ssl.SSLContext, server_side: bool, server_hostname: str | None
) -> SSLIOStream:
    # An SSLIOStream for a transport we already have: no socket to attach.
    stream = SSLIOStream.__new__(SSLIOStream)
    BaseIOStream.__init__(stream)
    stream._sock = sock
    stream._pending_transport = None
    stream._tls_successor = None
    stream._ssl_context = context
    stream._server_side = server_side
    stream._server_hostname = server_hostname
    stream._handshake_done = False
    stream._socket_view = None
    return stream


def _blank_iostream(sock: Any) -> IOStream:
    # An IOStream for a transport we already have (or none): no socket to attach.
    stream = IOStream.__new__(IOStream)
    BaseIOStream.__init__(stream)
    stream._sock = sock
    stream._pending_transport = None
    stream._tls_successor = None
    return stream


def closed_iostream() -> IOStream:
    """An :class:`IOStream` that is closed already: what ``detach()`` gives once the
    peer has gone (Tornado hands over its closed stream)."""
    stream = _blank_iostream(None)
    stream.close()
    return stream


def adopt_transport(
    transport: asyncio.Transport,
    data: bytes = b"",
    *,
    eof: bool = False,
    reading_paused: bool = False,
    writing_paused: bool = False,
) -> IOStream:
    """Make a stream of a live transport another protocol was using (``detach()``).

    ``data`` was read already and not used; ``eof``: the peer has closed its side;
    ``reading_paused``/``writing_paused``: the transport's state as the previous
    protocol left it. A TLS transport gives an :class:`SSLIOStream` (handshake done).
    """
    context = transport.get_extra_info("sslcontext")
    sock = transport.get_extra_info("socket")
    stream: IOStream
    if context is not None:
        tls = _new_ssl_stream(sock, context, False, None)
        tls._handshake_done = True
        stream = tls
    else:
        stream = _blank_iostream(sock)
    stream._attach_phase = HANDED_OVER
    stream._read_buffer += data
    stream._peer_eof = eof
    stream._write_paused = writing_paused
    transport.set_protocol(stream._protocol)
    stream._attached(transport, BOTH)
    if writing_paused:
        stream._write_paused = True
        stream._gate.pause()
    if reading_paused:
        stream._reading_paused = True
    return stream


class _TLSSocket:
    """A TLS stream's socket as Tornado code sees an ``SSLSocket``: the socket's own
    methods, and the TLS ones answered by the transport's ``SSLObject``."""

    __slots__ = ("_sock", "_stream")

    def __init__(self, sock: socket_module.socket, stream: SSLIOStream) -> None:
        self._sock = sock
        self._stream = stream

    def _ssl(self) -> ssl.SSLObject | None:
        stream = self._stream
        transport = stream._transport
        if transport is None or not stream._handshake_done:
            return None
        return cast("ssl.SSLObject | None", transport.get_extra_info("ssl_object"))

    def cipher(self) -> tuple[str, str, int] | None:
        """The cipher in use (None before the handshake)."""
        obj = self._ssl()
        return None if obj is None else obj.cipher()

    def version(self) -> str | None:
        """The TLS version in use (None before the handshake)."""
        obj = self._ssl()
        return None if obj is None else obj.version()

    def selected_alpn_protocol(self) -> str | None:
        """The protocol ALPN agreed on, if any."""
        obj = self._ssl()
        return None if obj is None else obj.selected_alpn_protocol()

    def getpeercert(self, binary_form: bool = False) -> Any:
        """The peer's certificate (see ``ssl.SSLSocket.getpeercert``)."""
        obj = self._ssl()
        if obj is None:
            raise ValueError("handshake not done yet")
        return obj.getpeercert(binary_form)

    @property
    def context(self) -> ssl.SSLContext:
        """The TLS context."""
        return self._stream._ssl_context

    @property
    def server_side(self) -> bool:
        """True on the server side of the handshake."""
        return self._stream._server_side

    @property
    def server_hostname(self) -> str | None:
        """The name sent (SNI) and checked, on the client side."""
        return self._stream._server_hostname

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def __repr__(self) -> str:
        return f"<TLS {self._sock!r}>"
