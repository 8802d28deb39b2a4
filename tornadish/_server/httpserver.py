"""The implementation behind :mod:`tornadish.httpserver` (its public face re-exports it)."""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from tornadish import netutil
from tornadish._http.body import BodyDecoder
from tornadish._http.contract import (
    HTTPConnection,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    StreamClosedError,
)
from tornadish._http.headers import HTTPHeaders
from tornadish._http.parse import RequestStartLine, ResponseStartLine
from tornadish._http.request import HTTPServerRequest
from tornadish._io import processes
from tornadish._server.negotiate import ProtocolSelector, offer_alpn
from tornadish._server.params import ServerParams
from tornadish._server.protocol import HTTP1ServerProtocol
from tornadish._server.tls import accept_tls
from tornadish.log import gen_log

if TYPE_CHECKING:
    from tornadish._server.h2_protocol import H2ServerProtocol

__all__ = ["HTTPServer", "StreamClosedError"]


class _ConnectionSet(set[HTTP1ServerProtocol]):
    """Open connections; wakes ``close_all_connections`` when the last one goes."""

    def __init__(self) -> None:
        super().__init__()
        self.empty_waiters: list[asyncio.Future[None]] = []

    def discard(self, conn: object) -> None:
        super().discard(conn)
        if not self and self.empty_waiters:
            waiters, self.empty_waiters = self.empty_waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)


class _WatchedConnectionSet(_ConnectionSet):
    """Open connections, each one added and gone told to ``watch`` (+1, -1): the
    application's ``connection_watch`` (its metrics' open-connections gauge)."""

    def __init__(self, watch: Callable[[int], None]) -> None:
        super().__init__()
        self.watch = watch

    def add(self, conn: HTTP1ServerProtocol) -> None:
        if conn not in self:
            super().add(conn)
            self.watch(1)

    def discard(self, conn: object) -> None:
        if conn in self:
            super().discard(conn)
            self.watch(-1)


_ANNOUNCED: set[str] = set()


def _current_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        from tornadish.ioloop import IOLoop

        return IOLoop.current().asyncio_loop


class HTTPServer(HTTPServerConnectionDelegate):
    """A non-blocking HTTP/1.x server.

    ``request_callback`` is an ``Application`` (anything with ``start_request``) or, as in
    old Tornado code, a plain callable taking an ``HTTPServerRequest`` with its body read.

    Limits and timeouts (all optional; see :class:`~.params.ServerParams` for
    defaults): ``max_header_size`` (→ 431), ``max_url_size`` (→ 414), ``max_body_size``
    (→ 400, refused from ``Content-Length`` before reading), ``idle_connection_timeout``,
    ``header_timeout`` (slowloris), ``body_timeout`` (silence inside a body; 408),
    ``min_body_rate`` (bytes/s a body must average once it has taken ``body_timeout``;
    408; 0 turns it off),
    ``write_buffer_limits`` (high, low) for the per-connection output buffer.
    ``http`` picks the HTTP/1.1 engine: ``"auto"`` (httptools when installed, else
    h11; the default, or what ``TORNADISH_HTTP`` says), ``"h11"`` or ``"httptools"``.
    ``ws`` picks the WebSocket engine: ``"auto"`` (the ``websockets`` library when
    installed, else wsproto; the default, or what ``TORNADISH_WS`` says), ``"wsproto"``
    or ``"websockets"``.
    ``http2=True`` serves HTTP/2 on the same port as well (the ``http2`` extra, the
    ``h2`` library): over TLS when the client picks ``h2`` by ALPN (offered on the
    server's SSL context), over cleartext when it opens with the HTTP/2 preface (prior
    knowledge); each stream is an ordinary request to ``request_callback``.
    Over cleartext, ``Upgrade: h2c`` from an HTTP/1.1 request without a body is
    honoured too (101, then its answer on stream 1).
    ``h2_max_concurrent_streams`` (100), ``h2_max_frame_size`` (16 KiB),
    ``h2_max_resets`` (200 per 10 s, against Rapid Reset), ``h2_max_control_frames``
    (1000 PINGs, SETTINGS and empty DATA frames per 10 s), ``h2_ping_interval`` and
    ``h2_ping_timeout`` (60 s and 20 s: liveness) and ``h2_window_timeout`` (60 s:
    zero-window slow reads) bound each HTTP/2 connection (see
    :class:`~.params.ServerParams`).
    ``xheaders=True`` trusts ``X-Real-Ip``/``X-Forwarded-For``/``X-Forwarded-Proto`` from a
    proxy in front; ``trusted_downstream`` lists proxies to skip in ``X-Forwarded-For``.
    """

    def __init__(
        self,
        request_callback: HTTPServerConnectionDelegate | Callable[[HTTPServerRequest], None],
        no_keep_alive: bool = False,
        xheaders: bool = False,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        protocol: str | None = None,
        decompress_request: bool = False,
        chunk_size: int | None = None,
        max_header_size: int | None = None,
        idle_connection_timeout: float | None = None,
        body_timeout: float | None = None,
        max_body_size: int | None = None,
        max_buffer_size: int | None = None,
        trusted_downstream: list[str] | None = None,
        *,
        header_timeout: float | None = None,
        max_url_size: int | None = None,
        write_buffer_limits: tuple[int, int] | None = None,
        min_body_rate: float | None = None,
        http: str | None = None,
        ws: str | None = None,
        http2: bool = False,
        h2_max_concurrent_streams: int | None = None,
        h2_max_resets: int | None = None,
        h2_max_frame_size: int | None = None,
        h2_max_control_frames: int | None = None,
        h2_ping_interval: float | None = None,
        h2_ping_timeout: float | None = None,
        h2_window_timeout: float | None = None,
    ) -> None:
        self.request_callback = request_callback
        self.ssl_options = ssl_options
        netutil.check_server_ssl_options(ssl_options)
        self._ssl_context = (
            netutil.ssl_options_to_context(ssl_options, server_side=True)
            if ssl_options is not None
            else None
        )
        if max_body_size is None and max_buffer_size is not None:
            max_body_size = max_buffer_size
        self.params = ServerParams(
            max_header_size=max_header_size,
            max_url_size=max_url_size,
            max_body_size=max_body_size,
            idle_connection_timeout=idle_connection_timeout,
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            no_keep_alive=no_keep_alive,
            xheaders=xheaders,
            trusted_downstream=trusted_downstream,
            scheme=protocol or ("https" if self._ssl_context is not None else "http"),
            decompress=decompress_request,
            write_buffer_limits=write_buffer_limits,
            min_body_rate=min_body_rate,
            http=http,
            ws=ws,
            http2=http2,
            h2_max_concurrent_streams=h2_max_concurrent_streams,
            h2_max_resets=h2_max_resets,
            h2_max_frame_size=h2_max_frame_size,
            h2_max_control_frames=h2_max_control_frames,
            h2_ping_interval=h2_ping_interval,
            h2_ping_timeout=h2_ping_timeout,
            h2_window_timeout=h2_window_timeout,
        )
        if http2 and self._ssl_context is not None:
            offer_alpn(self._ssl_context)
        self._delegate = _server_delegate(request_callback)
        if decompress_request or chunk_size is not None:
            self._delegate = _BodyDelegates(self._delegate, chunk_size or 65536, decompress_request)
        # What HTTP/1.1 connections start requests with: on cleartext with HTTP/2, one
        # that takes the requests asking for ``Upgrade: h2c`` first (see _server.h2c).
        self._h1_delegate: HTTPServerConnectionDelegate = self._delegate
        if http2 and self._ssl_context is None:
            from tornadish._server.h2c import H2cUpgrade  # needs h2: imported late

            self._h1_delegate = H2cUpgrade(self._delegate, self._make_h2)
        # Counted where the application asks (its metrics); a plain set otherwise.
        watch = getattr(request_callback, "connection_watch", None)
        self._connections = _ConnectionSet() if watch is None else _WatchedConnectionSet(watch)
        self._handshakes: set[asyncio.Task[None]] = set()  # TLS handshakes in flight
        self._tls_listeners: list[Callable[[], None]] = []  # each stops one TLS listener
        self._sockets: list[socket.socket] = []
        self._pending_sockets: list[socket.socket] = []
        self._served: set[socket.socket] = set()  # handed to a started asyncio server
        self._closer = _LoopCloser(self)
        self._servers: list[asyncio.AbstractServer] = []
        self._starting: list[asyncio.Task[asyncio.AbstractServer]] = []
        self._started = False
        self._stopped = False
        self._shutdown_hooks: list[Callable[[], object]] = []

    # -- listening --------------------------------------------------------------

    def listen(
        self,
        port: int,
        address: str | None = None,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = 1024,
        flags: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Bind to ``address``:``port`` and start accepting connections."""
        sockets = netutil.bind_sockets(
            port,
            address=address,
            family=family,
            backlog=backlog,
            flags=flags,
            reuse_port=reuse_port,
        )
        self.add_sockets(sockets)

    def bind(
        self,
        port: int,
        address: str | None = None,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        backlog: int = 1024,
        flags: int | None = None,
        reuse_port: bool = False,
    ) -> None:
        """Bind now, accept after :meth:`start` (so workers can be forked in between)."""
        sockets = netutil.bind_sockets(
            port,
            address=address,
            family=family,
            backlog=backlog,
            flags=flags,
            reuse_port=reuse_port,
        )
        if self._started:
            self.add_sockets(sockets)
        else:
            self._pending_sockets.extend(sockets)

    def start(self, num_processes: int | None = 1, max_restarts: int | None = None) -> None:
        """Start accepting on the sockets from :meth:`bind`, first forking
        ``num_processes`` workers when it is not 1 (``None``/0: one per CPU)."""
        assert not self._started, "start() called twice"
        self._started = True
        if num_processes != 1:
            processes.fork_processes(num_processes, max_restarts)
        sockets, self._pending_sockets = self._pending_sockets, []
        self.add_sockets(sockets)

    def add_sockets(self, sockets: list[socket.socket]) -> None:
        """Accept connections on already-bound listening sockets."""
        loop = _current_loop()
        # ``IOLoop.close(all_fds=True)`` closes what is open on the loop, as Tornado's
        # closes every fd: this server's listeners and connections included. (Left
        # open under a closing uvloop loop, they make its close() wait for ever.)
        from tornadish.ioloop import IOLoop

        IOLoop.current()._streams.add(self._closer)
        engine = self.params.http
        if engine not in _ANNOUNCED:
            # Once per process and engine, not per server; at debug level, as Tornado
            # says nothing here (tornadish.run says it at info when it starts serving).
            _ANNOUNCED.add(engine)
            gen_log.debug("HTTP/1.1 engine: %s", engine)
        for sock in sockets:
            self._sockets.append(sock)
            if self._ssl_context is not None:
                # Accepted here, not by create_server(ssl=), so that a failed handshake
                # is logged (see tornadish._server.tls).
                self._tls_listeners.append(
                    accept_tls(sock, self._ssl_context, self._make_protocol, self._handshakes)
                )
                continue
            task = loop.create_task(
                loop.create_server(self._make_protocol, sock=sock, backlog=1024)
            )
            self._starting.append(task)
            task.add_done_callback(functools.partial(self._server_started, sock))

    def add_socket(self, sock: socket.socket) -> None:
        """Accept connections on one already-bound listening socket."""
        self.add_sockets([sock])

    def _server_started(
        self, sock: socket.socket, task: asyncio.Task[asyncio.AbstractServer]
    ) -> None:
        self._starting.remove(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            gen_log.error("Could not start listening", exc_info=exc)
            return
        server = task.result()
        # The server owns the socket now: its close() closes it. Closing the socket
        # under it as well makes uvloop's loop.close() hang.
        self._served.add(sock)
        if self._stopped:
            server.close()
        else:
            self._servers.append(server)

    def _make_protocol(self) -> HTTP1ServerProtocol:
        if self.params.http2:
            # The first bytes (or ALPN) choose HTTP/2 or HTTP/1.1 (see _server.negotiate).
            return ProtocolSelector(  # type: ignore[return-value]
                self._make_h1, self._make_h2, self._connections
            )
        return HTTP1ServerProtocol(self.params, self._delegate, self._connections)

    def _make_h1(self) -> HTTP1ServerProtocol:
        return HTTP1ServerProtocol(self.params, self._h1_delegate, self._connections)

    def _make_h2(self) -> H2ServerProtocol:
        from tornadish._server.h2_protocol import H2ServerProtocol  # needs h2: imported late

        return H2ServerProtocol(self.params, self._delegate, self._connections)

    async def wait_started(self) -> None:
        """Wait until every added socket is being served (useful in tests)."""
        while self._starting:
            await asyncio.gather(*self._starting, return_exceptions=True)

    @property
    def sockets(self) -> list[socket.socket]:
        """The listening sockets."""
        return list(self._sockets)

    @property
    def connections(self) -> frozenset[HTTP1ServerProtocol]:
        """The open connections (for introspection and shutdown)."""
        return frozenset(self._connections)

    # -- stopping ---------------------------------------------------------------

    def stop(self) -> None:
        """Stop accepting new connections; open ones carry on (see
        :meth:`close_all_connections`)."""
        self._stopped = True
        for task in list(self._starting):
            task.cancel()
        for server in self._servers:
            server.close()
        self._servers = []
        for stop_accepting in self._tls_listeners:
            stop_accepting()
        self._tls_listeners = []
        for sock in self._sockets + self._pending_sockets:
            if sock in self._served:
                continue
            try:
                sock.close()
            except OSError:
                pass
        self._served.clear()
        self._sockets = []
        self._pending_sockets = []

    async def close_all_connections(self) -> None:
        """Close every open connection and wait until they are gone."""
        for handshake in list(self._handshakes):
            handshake.cancel()
        if not self._connections:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._connections.empty_waiters.append(waiter)
        for conn in list(self._connections):
            conn.close()
        await waiter

    async def shutdown(self, grace: float = 30.0) -> None:
        """Stop gracefully (drain): stop accepting (connections already queued are
        still served), tell the handlers (``RequestHandler.shutting_down``), close
        each keep-alive connection after its current response (an idle one once it is
        quiet) and each WebSocket with 1001; requests in progress get up to ``grace``
        seconds, then the rest are closed and their handlers cancelled, and given a
        moment to unwind (``finally``, ``on_finish``). The shutdown hooks run last (see
        :mod:`tornadish._server.shutdown`)."""
        from tornadish._server.shutdown import shutdown_server

        await shutdown_server(self, grace)

    def add_shutdown_hook(self, hook: Callable[[], object]) -> None:
        """Call ``hook()`` (awaited if it returns an awaitable) at the end of
        :meth:`shutdown`, after the connections are gone."""
        self._shutdown_hooks.append(hook)

    @property
    def port(self) -> int | None:
        """The port of the first listening socket (the bound one after ``listen(0)``)."""
        for sock in self._sockets + self._pending_sockets:
            name = sock.getsockname()
            if isinstance(name, tuple):
                return int(name[1])
        return None

    # -- HTTPServerConnectionDelegate --------------------------------------------

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        return self._delegate.start_request(server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        self._delegate.on_close(server_conn)


def _server_delegate(callback: object) -> HTTPServerConnectionDelegate:
    """What serves the requests for ``HTTPServer(request_callback)``."""
    if isinstance(callback, HTTPServerConnectionDelegate):
        return callback
    if isinstance(callback, _StartsRequests):
        # Duck typing, which tornadish has always allowed (Tornado would take such an
        # object for a plain callback): a router that does not subclass
        # HTTPServerConnectionDelegate.
        return cast(HTTPServerConnectionDelegate, callback)
    return _CallableAdapter(cast(Callable[[HTTPServerRequest], Any], callback))


@runtime_checkable
class _StartsRequests(Protocol):
    """What ``HTTPServer`` needs of a request router that does not subclass
    :class:`HTTPServerConnectionDelegate`."""

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate: ...


# Strong references to running callback coroutines (the loop keeps only weak ones).
_callback_tasks: set[asyncio.Future[Any]] = set()


class _CallableAdapter(HTTPServerConnectionDelegate, HTTPMessageDelegate):
    """Serves a plain ``callback(request)`` (pre-``Application`` Tornado style)."""

    def __init__(self, callback: Callable[[HTTPServerRequest], Any]) -> None:
        self.callback = callback

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        return _CallableRequest(self.callback, request_conn)


class _CallableRequest(HTTPMessageDelegate):
    def __init__(self, callback: Callable[[HTTPServerRequest], Any], conn: HTTPConnection):
        self.callback = callback
        self.connection = conn
        self.request: HTTPServerRequest | None = None
        self.chunks: list[bytes] = []

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, RequestStartLine)
        self.request = HTTPServerRequest(
            connection=self.connection,
            start_line=start_line,
            headers=headers,
            server_connection=self.connection,
        )
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        self.chunks.append(chunk)
        return None

    def finish(self) -> None:
        request = self.request
        assert request is not None
        request.body = b"".join(self.chunks)
        request.parse_body()
        result = self.callback(request)
        if result is not None and asyncio.iscoroutine(result):
            task = asyncio.ensure_future(result)
            _callback_tasks.add(task)
            task.add_done_callback(_callback_tasks.discard)
            self.connection.track_task(task)  # a graceful shutdown waits for it


class _LoopCloser:
    """What ``IOLoop.close(all_fds=True)`` closes for an :class:`HTTPServer`: its
    listeners, then its connections, at once."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server

    def close(self) -> None:
        self.server.stop()
        for handshake in list(self.server._handshakes):
            handshake.cancel()
        for conn in list(self.server._connections):
            transport = conn.transport
            if transport is not None:
                transport.abort()


class _BodyDelegates(HTTPServerConnectionDelegate):
    """``chunk_size`` / ``decompress_request``: each request's delegate gets its body in
    pieces of at most ``chunk_size`` bytes (Tornado's promise to ``data_received``),
    ``Content-Encoding: gzip`` bodies decompressed where ``decompress``."""

    def __init__(
        self, delegate: HTTPServerConnectionDelegate, chunk_size: int, decompress: bool
    ) -> None:
        self.delegate = delegate
        self.chunk_size = chunk_size
        self.decompress = decompress

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        inner = self.delegate.start_request(server_conn, request_conn)
        return BodyDecoder(inner, self.chunk_size, request_conn, self.decompress)

    def on_close(self, server_conn: object) -> None:
        self.delegate.on_close(server_conn)
