"""Tornado's ``tornado.tcpclient``: :class:`TCPClient`, a factory of connected
:class:`~tornadish.iostream.IOStream` objects.

``connect`` resolves the host with a :class:`~tornadish.netutil.Resolver`, then tries its
addresses with "Happy Eyeballs" (RFC 6555, :class:`_Connector`): the first address family
the resolver returned is tried first, and if it has not connected within
``_INITIAL_CONNECT_TIMEOUT`` seconds (or fails), the other family is tried in parallel.
With ``ssl_options`` the connected stream is upgraded with ``start_tls``.

>>> stream = await TCPClient().connect("localhost", 8888)  # doctest: +SKIP
>>> await stream.write(b"PING\\r\\n")  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import numbers
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any

from tornadish import gen
from tornadish._io.iostream import IOStream
from tornadish.concurrent import future_add_done_callback
from tornadish.gen import TimeoutError
from tornadish.ioloop import IOLoop
from tornadish.netutil import Resolver

__all__ = ["TCPClient"]

#: Seconds to wait for the first address family before also trying the other one.
_INITIAL_CONNECT_TIMEOUT = 0.3

_AddrInfo = tuple[Any, Any]  # (family, address); Tornado types it as a bare tuple
_ConnectFn = Callable[[socket.AddressFamily, Any], "tuple[IOStream, asyncio.Future[IOStream]]"]


def _format_addr(addr: Any) -> str:
    """Format a socket address for error messages: ``1.2.3.4:443``, ``[::1]:443``, or
    ``str(addr)`` for anything else.

    >>> _format_addr(("::1", 443)), _format_addr(("10.0.0.1", 80))
    ('[::1]:443', '10.0.0.1:80')
    """
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[:2]
        if isinstance(host, str) and ":" in host:
            return f"[{host}]:{port}"
        return f"{host}:{port}"
    return str(addr)


class _Connector:
    """Tornado's "Happy Eyeballs" (RFC 6555) connection attempt.

    The addresses are split by family: the family of the first address is the primary
    one. One attempt per family is in flight at a time; when an attempt fails, the next
    address of its family is tried, and the secondary family starts when the primary
    one fails or ``timeout`` passes. The first stream to connect wins and every other
    attempt is closed. ``connect(af, addr)`` returns ``(stream, future)``.
    """

    def __init__(self, addrinfo: list[_AddrInfo], connect: _ConnectFn) -> None:
        self.io_loop = IOLoop.current()
        self.connect = connect
        self.future: asyncio.Future[tuple[socket.AddressFamily, Any, IOStream]] = (
            asyncio.get_event_loop().create_future()
        )
        self.timeout: object | None = None
        self.connect_timeout: object | None = None
        self.last_error: Exception | None = None
        self.remaining = len(addrinfo)
        self.primary_addrs, self.secondary_addrs = self.split(addrinfo)
        self.streams: set[IOStream] = set()
        self.pending_addrs: set[Any] = set()

    @staticmethod
    def split(addrinfo: list[_AddrInfo]) -> tuple[list[_AddrInfo], list[_AddrInfo]]:
        """Partition ``addrinfo`` by family: the first entry's family, then the rest.

        >>> _Connector.split([(2, "a"), (10, "b"), (2, "c")])
        ([(2, 'a'), (2, 'c')], [(10, 'b')])
        """
        primary: list[_AddrInfo] = []
        secondary: list[_AddrInfo] = []
        primary_af = addrinfo[0][0]
        for af, addr in addrinfo:
            if af == primary_af:
                primary.append((af, addr))
            else:
                secondary.append((af, addr))
        return primary, secondary

    def start(
        self,
        timeout: float = _INITIAL_CONNECT_TIMEOUT,
        connect_timeout: float | datetime.timedelta | None = None,
    ) -> asyncio.Future[tuple[socket.AddressFamily, Any, IOStream]]:
        """Begin with the primary family; the future resolves to ``(af, addr, stream)``.

        ``timeout`` is the delay before the secondary family is tried;
        ``connect_timeout`` (a deadline as ``IOLoop.add_timeout`` takes it) fails the
        whole attempt with :class:`TimeoutError`.
        """
        self.set_timeout(timeout)
        if connect_timeout is not None:
            self.set_connect_timeout(connect_timeout)
        self.try_connect(iter(self.primary_addrs))
        future_add_done_callback(self.future, self.on_future_done)
        return self.future

    def try_connect(self, addrs: Iterator[_AddrInfo]) -> None:
        """Start an attempt on the next address of ``addrs``; when none is left and no
        attempt is pending, fail with the last error."""
        try:
            af, addr = next(addrs)
        except StopIteration:
            if self.remaining == 0 and not self.future.done():
                self.future.set_exception(self.last_error or OSError("connection failed"))
                self.close_streams()
            return
        future: asyncio.Future[IOStream]
        try:
            stream, future = self.connect(af, addr)
        except Exception as e:
            future = asyncio.get_event_loop().create_future()
            future.set_exception(e)
        else:
            self.streams.add(stream)
            self.pending_addrs.add(addr)
        future_add_done_callback(future, functools.partial(self.on_connect_done, addrs, af, addr))

    def on_connect_done(
        self,
        addrs: Iterator[_AddrInfo],
        af: socket.AddressFamily,
        addr: Any,
        future: asyncio.Future[IOStream],
    ) -> None:
        """One attempt finished: win with its stream, or move on to the next address."""
        self.remaining -= 1
        self.pending_addrs.discard(addr)
        try:
            stream = future.result()
        except (Exception, asyncio.CancelledError) as e:
            if self.future.done():
                return
            if not isinstance(e, asyncio.CancelledError):
                self.last_error = e
            self.try_connect(addrs)
            if self.timeout is not None:
                # An early failure starts the secondary family without waiting.
                self.io_loop.remove_timeout(self.timeout)
                self.on_timeout()
            return
        self.clear_timeouts()
        if self.future.done():
            stream.close()
        else:
            self.streams.discard(stream)
            self.future.set_result((af, addr, stream))
            self.close_streams()

    def on_future_done(self, future: Any) -> None:
        """When the caller cancels, stop the timers and close every attempt."""
        if future.cancelled():
            self.clear_timeouts()
            self.close_streams()

    def set_timeout(self, timeout: float) -> None:
        """Try the secondary family after ``timeout`` seconds."""
        self.timeout = self.io_loop.add_timeout(self.io_loop.time() + timeout, self.on_timeout)

    def on_timeout(self) -> None:
        """The primary family is slow (or failed): start the secondary one."""
        self.timeout = None
        if not self.future.done():
            self.try_connect(iter(self.secondary_addrs))

    def clear_timeout(self) -> None:
        """Cancel the secondary-family timer."""
        if self.timeout is not None:
            self.io_loop.remove_timeout(self.timeout)

    def set_connect_timeout(self, connect_timeout: float | datetime.timedelta) -> None:
        """Fail the whole attempt at ``connect_timeout``."""
        self.connect_timeout = self.io_loop.add_timeout(connect_timeout, self.on_connect_timeout)

    def on_connect_timeout(self) -> None:
        """The deadline passed: fail with :class:`TimeoutError` naming pending addresses."""
        if not self.future.done():
            if self.pending_addrs:
                message = "Timeout while connecting to " + ", ".join(
                    sorted(_format_addr(addr) for addr in self.pending_addrs)
                )
            else:
                message = "Timeout while connecting"
            self.future.set_exception(TimeoutError(message))
        self.close_streams()

    def clear_timeouts(self) -> None:
        """Cancel both timers."""
        if self.timeout is not None:
            self.io_loop.remove_timeout(self.timeout)
        if self.connect_timeout is not None:
            self.io_loop.remove_timeout(self.connect_timeout)

    def close_streams(self) -> None:
        """Close every stream still being attempted."""
        for stream in self.streams:
            stream.close()


class TCPClient:
    """A non-blocking TCP connection factory.

    ``resolver`` is the :class:`~tornadish.netutil.Resolver` to use; without one, a
    default resolver is made and :meth:`close` closes it.
    """

    def __init__(self, resolver: Resolver | None = None) -> None:
        if resolver is not None:
            self.resolver = resolver
            self._own_resolver = False
        else:
            self.resolver = Resolver()
            self._own_resolver = True

    def close(self) -> None:
        """Close the resolver, if this client made it."""
        if self._own_resolver:
            self.resolver.close()

    async def connect(
        self,
        host: str,
        port: int,
        af: socket.AddressFamily = socket.AF_UNSPEC,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        max_buffer_size: int | None = None,
        source_ip: str | None = None,
        source_port: int | None = None,
        timeout: float | datetime.timedelta | None = None,
    ) -> IOStream:
        """Connect to ``host``:``port``; returns an :class:`IOStream` (an
        :class:`~tornadish.iostream.SSLIOStream` when ``ssl_options`` is given, the
        host name then being checked against the certificate as SNI).

        ``source_ip``/``source_port`` bind the local end first. ``timeout`` (seconds or
        a ``timedelta``, from now) covers resolving, connecting and the TLS handshake;
        past it :class:`TimeoutError` is raised, its message naming the phase, and the
        half-made stream is closed.
        """
        deadline: float | None = None
        timeout_any: Any = timeout  # any numbers.Real, as in Tornado
        if timeout_any is not None:
            if isinstance(timeout_any, numbers.Real):
                deadline = IOLoop.current().time() + float(timeout_any)
            elif isinstance(timeout, datetime.timedelta):
                deadline = IOLoop.current().time() + timeout.total_seconds()
            else:
                raise TypeError(f"Unsupported timeout {timeout!r}")
        if deadline is not None:
            addrinfo = await gen.with_timeout(
                deadline,
                self.resolver.resolve(host, port, af),
                message=f"Timeout while resolving {host}",
            )
        else:
            addrinfo = await self.resolver.resolve(host, port, af)
        connector = _Connector(
            addrinfo,
            functools.partial(
                self._create_stream, max_buffer_size, source_ip=source_ip, source_port=source_port
            ),
        )
        af, addr, stream = await connector.start(connect_timeout=deadline)
        if ssl_options is not None:
            tls_future = stream.start_tls(False, ssl_options=ssl_options, server_hostname=host)
            try:
                if deadline is not None:
                    tls_stream: IOStream = await gen.with_timeout(
                        deadline,
                        tls_future,
                        message=lambda: "Timeout during TLS handshake with " + _format_addr(addr),
                    )
                else:
                    tls_stream = await tls_future
            except BaseException:
                stream.close()
                raise
            finally:
                # Cancelling a pending start_tls closes the stream it was making.
                tls_future.cancel()
            stream = tls_stream
        return stream

    def _create_stream(
        self,
        max_buffer_size: int | None,
        af: socket.AddressFamily,
        addr: Any,
        source_ip: str | None = None,
        source_port: int | None = None,
    ) -> tuple[IOStream, asyncio.Future[IOStream]]:
        """A new stream over a socket of family ``af`` (bound first if asked) and the
        future of its connection to ``addr``."""
        source_port_bind = source_port if isinstance(source_port, int) else 0
        source_ip_bind = source_ip
        if source_port_bind and not source_ip:
            source_ip_bind = "::1" if af == socket.AF_INET6 else "127.0.0.1"
        socket_obj = socket.socket(af)
        try:
            if source_port_bind or source_ip_bind:
                socket_obj.bind((source_ip_bind, source_port_bind))
            stream = IOStream(socket_obj, max_buffer_size=max_buffer_size)
        except BaseException:
            socket_obj.close()
            raise
        return stream, stream.connect(addr)
