"""Keep-alive connections by origin, and the ``max_clients`` gate with its FIFO queue.

Two independent resources, both owned by one :class:`ConnectionPool` per client:

- **Slots.** At most ``max_clients`` requests run at once (Tornado's meaning of the
  setting: requests, not connections). The rest wait in arrival order; a slot that frees
  up is handed straight to the first waiter, so a newcomer cannot overtake the queue.
- **Idle connections**, keyed by :class:`Origin` (scheme, address, port and TLS settings:
  connections made with different certificates or verification never mix). The most
  recently used connection is reused first, so the rest age out. A connection the
  server closed is dropped as soon as its EOF arrives; one sweep timer per pool closes
  those idle longer than ``idle_timeout``, and the idle total is capped at
  ``max_clients`` (the oldest goes first).
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import socket
import ssl
from collections.abc import Awaitable
from typing import Any, NamedTuple, TypeVar

from tornadish._client.connection import ClientConnection, RequestTimeout
from tornadish._client.proxy import Proxy, open_connection
from tornadish._http.engines import resolve_http
from tornadish.log import gen_log
from tornadish.netutil import Resolver, is_valid_ip

_T = TypeVar("_T")

__all__ = ["ConnectionPool", "Origin"]

# Stagger for Happy Eyeballs (RFC 8305 recommends 250 ms) when a name has several addresses.
_HAPPY_EYEBALLS_DELAY = 0.25


class Origin(NamedTuple):
    """Where a connection goes and how; equal origins share pooled connections."""

    scheme: str
    host: str  # the address connected to (after any hostname mapping)
    port: int
    ssl: ssl.SSLContext | None
    server_hostname: str | None  # the name TLS verifies (SNI), None for plain HTTP
    source: str | None  # a local address to bind (``network_interface``)
    family: int
    proxy: Proxy | None = None  # reached through it (see tornadish._client.proxy)


async def _within(
    work: Awaitable[_T], deadline: float | None, message: str = "Timeout while connecting"
) -> _T:
    """``await work``, or :class:`RequestTimeout` (``message``) once ``deadline`` (loop
    time) has passed."""
    if deadline is None:
        return await work
    left = deadline - asyncio.get_running_loop().time()
    try:
        return await asyncio.wait_for(work, max(left, 0.0))
    except asyncio.TimeoutError:
        raise RequestTimeout(message) from None


_EYEBALLS_SUPPORT: dict[type, bool] = {}


def _supports_happy_eyeballs(loop: asyncio.AbstractEventLoop) -> bool:
    # uvloop's create_connection has no happy_eyeballs_delay; ask each loop type once.
    kind = type(loop)
    known = _EYEBALLS_SUPPORT.get(kind)
    if known is None:
        try:
            params = inspect.signature(loop.create_connection).parameters
            known = "happy_eyeballs_delay" in params
        except (TypeError, ValueError):
            known = False
        _EYEBALLS_SUPPORT[kind] = known
    return known


class ConnectionPool:
    """Slots for running requests and idle keep-alive connections, for one client."""

    def __init__(
        self,
        max_clients: int,
        idle_timeout: float,
        max_header_size: int,
        resolver: Resolver | None = None,
    ) -> None:
        self.max_clients = max_clients
        #: Tornado's ``resolver`` option: names are resolved through it, not the loop.
        self.resolver = resolver
        self.idle_timeout = idle_timeout
        self.max_header_size = max_header_size
        #: The HTTP/1.1 engine responses are read with (``TORNADISH_HTTP``, else auto).
        self.http = resolve_http()
        self.loop = asyncio.get_running_loop()
        self.active = 0
        self._queue: collections.deque[asyncio.Future[None]] = collections.deque()
        self._idle: dict[Origin, list[ClientConnection]] = {}
        self._idle_count = 0
        self._sweep_timer: asyncio.TimerHandle | None = None
        self._closed = False

    # -- slots ----------------------------------------------------------------------

    @property
    def queued(self) -> int:
        """Requests waiting for a slot."""
        return len(self._queue)

    @property
    def waiters(self) -> tuple[asyncio.Future[None], ...]:
        """The requests waiting for a slot, first in line first (their wake-up futures)."""
        return tuple(w for w in self._queue if not w.done())

    async def acquire(self, deadline: float | None) -> None:
        """Wait for a slot (FIFO); :class:`RequestTimeout` if ``deadline`` passes first."""
        if self.active < self.max_clients and not self._queue:
            self.active += 1
            return
        loop = self.loop
        waiter: asyncio.Future[None] = loop.create_future()
        self._queue.append(waiter)
        timer = loop.call_at(deadline, self._expire, waiter) if deadline is not None else None
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over just as we gave up
            else:
                self._forget(waiter)
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _expire(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            self._forget(waiter)
            waiter.set_exception(RequestTimeout("Timeout in request queue"))

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        try:
            self._queue.remove(waiter)
        except ValueError:
            pass

    def release(self) -> None:
        """Give a slot back: to the first live waiter, else to the pool."""
        queue = self._queue
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot changes hands; ``active`` stays
                return
        self.active -= 1

    # -- connections ----------------------------------------------------------------

    def checkout(self, origin: Origin) -> ClientConnection | None:
        """An idle connection to ``origin`` that still looks alive, if there is one."""
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            self._idle_count -= 1
            if conn.usable:
                conn.idled_for = self.loop.time() - conn.idle_since
                return conn
            conn.abort()
        return None

    async def connect(self, origin: Origin, timeout: float | None) -> ClientConnection:
        """Open a new connection; :class:`RequestTimeout` after ``timeout`` seconds.

        Errors from the resolver, the socket or the TLS handshake propagate as they are
        (``ConnectionRefusedError``, ``socket.gaierror``, ``ssl.SSLCertVerificationError``),
        as Tornado's simple client lets them.
        """
        loop = self.loop
        deadline = None if timeout is None else loop.time() + max(timeout, 0.0)
        kwargs: dict[str, Any] = {}
        if origin.source:
            if not is_valid_ip(origin.source):
                raise ValueError(
                    f"Failed binding local connection end to {origin.source!r}: "
                    "network_interface must be an IP address"
                )
            kwargs["local_addr"] = (origin.source, 0)
        host, port, family = origin.host, origin.port, origin.family

        def factory() -> ClientConnection:
            return ClientConnection(origin, self.max_header_size, self._lost, self.http)

        proxy = origin.proxy
        connecting: Awaitable[tuple[asyncio.Transport, ClientConnection]]
        if proxy is not None:
            # The proxy resolves the origin's name (or python-socks does, for socks5).
            tunnel = not (proxy.forwards_http and origin.scheme == "http")
            connecting = open_connection(proxy, factory, host, port, tunnel=tunnel)
            where = f"{host}:{port} through the proxy {proxy.host}:{proxy.port}"
        elif self.resolver is not None:
            resolving = self.resolver.resolve(host, port, socket.AddressFamily(family))
            addresses = await _within(resolving, deadline, f"Timeout while resolving {host}")
            family, (host, port) = addresses[0][0], addresses[0][1][:2]
        elif _supports_happy_eyeballs(loop) and not is_valid_ip(host):
            kwargs["happy_eyeballs_delay"] = _HAPPY_EYEBALLS_DELAY
        if proxy is None:
            connecting = loop.create_connection(factory, host, port, family=family, **kwargs)
            where = f"{host}:{port}"
        transport, conn = await _within(connecting, deadline)
        if origin.ssl is not None:
            # TLS after TCP, so that a timeout can say which of the two was slow.
            handshake = loop.start_tls(
                transport, conn, origin.ssl, server_hostname=origin.server_hostname
            )
            sock = transport.get_extra_info("socket")
            try:
                tls = await _within(
                    handshake, deadline, f"Timeout during TLS handshake with {where}"
                )
            except ssl.SSLError as e:
                # Tornado's line for a failed handshake (a certificate refused, most
                # often), at WARNING and without a traceback; the error still propagates.
                fd = sock.fileno() if sock is not None else -1
                gen_log.warning("SSL Error on %s %s: %s", fd, (host, port), e)
                transport.abort()
                raise
            except BaseException:
                transport.abort()
                raise
            if tls is None:  # the peer closed during the handshake
                raise ConnectionResetError("connection closed during the TLS handshake")
            conn.transport = tls
        return conn

    def checkin(self, conn: ClientConnection) -> None:
        """Take a connection back after an exchange that ended cleanly."""
        if self._closed or not conn.usable:
            conn.close()
            return
        origin: Origin = conn.key
        conn.idle_since = self.loop.time()
        self._idle.setdefault(origin, []).append(conn)
        self._idle_count += 1
        if self._idle_count > self.max_clients:
            self._evict_oldest()
        if self._sweep_timer is None:
            self._sweep_timer = self.loop.call_at(conn.idle_since + self.idle_timeout, self._sweep)

    def _lost(self, conn: ClientConnection) -> None:
        # The transport closed (the server went away, or we closed it): forget it if idle.
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)
            self._idle_count -= 1

    def _evict_oldest(self) -> None:
        oldest: list[ClientConnection] | None = None
        for conns in self._idle.values():
            if conns and (oldest is None or conns[0].idle_since < oldest[0].idle_since):
                oldest = conns
        if oldest:
            conn = oldest.pop(0)
            self._idle_count -= 1
            conn.close()

    def _sweep(self) -> None:
        self._sweep_timer = None
        cutoff = self.loop.time() - self.idle_timeout
        next_expiry: float | None = None
        for origin, conns in list(self._idle.items()):
            # Each list is in the order its connections went idle.
            while conns and conns[0].idle_since <= cutoff:
                self._idle_count -= 1
                conns.pop(0).close()
            if conns:
                first = conns[0].idle_since + self.idle_timeout
                next_expiry = first if next_expiry is None else min(next_expiry, first)
            else:
                del self._idle[origin]
        if next_expiry is not None:
            self._sweep_timer = self.loop.call_at(next_expiry, self._sweep)

    def close(self) -> None:
        """Close the idle connections; those in use close when their exchange ends."""
        self._closed = True
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
            self._sweep_timer = None
        idle, self._idle = self._idle, {}
        self._idle_count = 0
        for conns in idle.values():
            for conn in conns:
                conn.close()
