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
- **Shared HTTP/2 connections**, one per origin that asked for HTTP/2 (``http2``):
  never checked out, every fetch to the origin runs on it at once, each on a stream
  (:mod:`.h2_connection`). While the first is being opened the fetches that come
  meanwhile wait for it rather than each opening their own; a server that answers the
  TLS handshake with ``http/1.1`` (ALPN) is remembered, and that origin gets pooled
  HTTP/1.1 connections from then on. A connection that got GOAWAY is forgotten at once
  (the next fetch opens a new one); each closes itself after ``idle_timeout`` without
  a stream.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import socket
import ssl
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from tornadish._client.connection import ClientConnection
from tornadish._client.connection_base import RequestTimeout
from tornadish._client.proxy import Proxy, open_connection
from tornadish._http.engines import resolve_http
from tornadish.log import gen_log
from tornadish.netutil import Resolver, is_valid_ip

if TYPE_CHECKING:
    from tornadish._client.h2_connection import H2ClientConnection

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
    # HTTP/2 asked for: by ALPN over TLS, by prior knowledge over cleartext.
    http2: bool = False


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
        # HTTP/2: the shared connection of each origin, the openings under way (a
        # future resolved when one is done), and origins whose server chose HTTP/1.1.
        self._h2: dict[Origin, H2ClientConnection] = {}
        self._h2_opening: dict[Origin, asyncio.Future[None]] = {}
        self._h1_only: set[Origin] = set()

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

    async def connect(
        self, origin: Origin, timeout: float | None
    ) -> ClientConnection | H2ClientConnection:
        """Open a new connection; :class:`RequestTimeout` after ``timeout`` seconds.

        For an ``http2`` origin: HTTP/2 by prior knowledge over cleartext; over TLS,
        HTTP/2 if the server picks ``h2`` by ALPN, else HTTP/1.1.

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
        prior_knowledge = origin.http2 and origin.ssl is None
        if origin.http2:
            _h2_connection_class()  # without h2, say so before connecting

        def factory() -> ClientConnection | H2ClientConnection:
            if prior_knowledge:
                return self._new_h2(origin)
            return ClientConnection(origin, self.max_header_size, self._lost, self.http)

        proxy = origin.proxy
        connecting: Awaitable[tuple[asyncio.Transport, ClientConnection | H2ClientConnection]]
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
            assert isinstance(conn, ClientConnection)
            # Which protocol reads the server's first bytes is known only once the
            # handshake is over (ALPN; a caller's SSLContext may offer h2 even where
            # this origin did not ask): until then they wait in a stand-in.
            chosen = _Undecided()
            # TLS after TCP, so that a timeout can say which of the two was slow.
            handshake = loop.start_tls(
                transport, chosen, origin.ssl, server_hostname=origin.server_hostname
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
            ssl_object = tls.get_extra_info("ssl_object")
            if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
                h2conn = self._new_h2(origin)
                chosen.hand_over(tls, h2conn)
                return h2conn
            conn.transport = tls
            chosen.hand_over(tls, conn)
        return conn

    # -- HTTP/2 -----------------------------------------------------------------------

    def _new_h2(self, origin: Origin) -> H2ClientConnection:
        cls = _h2_connection_class()
        return cls(origin, self.max_header_size, self._lost_h2, self.idle_timeout)

    async def connect_h2(
        self, origin: Origin, timeout: float | None, fresh: bool = False
    ) -> ClientConnection | H2ClientConnection:
        """A connection for a fetch to an ``http2`` origin: its shared HTTP/2 connection
        (opened if there is none, or being opened by another fetch: that one is awaited),
        or, where the server chose HTTP/1.1, an idle (unless ``fresh``) or new HTTP/1.1
        one to check in after the exchange. :class:`RequestTimeout` after ``timeout``
        seconds."""
        loop = self.loop
        deadline = None if timeout is None else loop.time() + max(timeout, 0.0)
        while True:
            shared = self._h2.get(origin)
            if shared is not None:
                if shared.usable:
                    return shared
                del self._h2[origin]
            if origin in self._h1_only:
                idle = None if fresh else self.checkout(origin)
                if idle is not None:
                    return idle
                break
            opening = self._h2_opening.get(origin)
            if opening is None:
                break
            # Another fetch is connecting: its connection will carry this one too (if
            # that fails, this fetch tries for itself).
            await _within(asyncio.shield(opening), deadline)
        left = None if deadline is None else deadline - loop.time()
        if origin in self._h1_only:
            return await self.connect(origin, left)
        opened = self._h2_opening[origin] = loop.create_future()
        try:
            conn = await self.connect(origin, left)
            if isinstance(conn, ClientConnection):
                self._h1_only.add(origin)
            else:
                self._h2[origin] = conn
        finally:
            del self._h2_opening[origin]
            opened.set_result(None)
        if self._closed and not isinstance(conn, ClientConnection):
            conn.close_when_idle()
        return conn

    def _lost_h2(self, conn: H2ClientConnection) -> None:
        if self._h2.get(conn.key) is conn:
            del self._h2[conn.key]

    @property
    def h2_connections(self) -> int:
        """Shared HTTP/2 connections open now."""
        return len(self._h2)

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
        shared, self._h2 = self._h2, {}
        for h2conn in shared.values():
            h2conn.close_when_idle()


def _h2_connection_class() -> type[H2ClientConnection]:
    # Imported when first asked for: h2 is an extra (``http2``).
    try:
        from tornadish._client.h2_connection import H2ClientConnection
    except ImportError as e:
        raise ImportError(
            f"HTTP/2 needs the h2 library: pip install 'tornadish[http2]' ({e})"
        ) from None
    return H2ClientConnection


class _Undecided(asyncio.Protocol):
    """The TLS transport's protocol until ALPN has chosen: holds what arrives, then
    hands the transport, and it, to the chosen connection."""

    __slots__ = ("_data", "_eof", "_lost", "_target")

    def __init__(self) -> None:
        self._data: list[bytes] = []
        self._eof = False
        self._lost: tuple[Exception | None] | None = None
        self._target: asyncio.Protocol | None = None

    def data_received(self, data: bytes) -> None:
        if self._target is not None:
            self._target.data_received(data)
        else:
            self._data.append(data)

    def eof_received(self) -> bool | None:
        if self._target is not None:
            return self._target.eof_received()
        self._eof = True
        return True  # the chosen connection decides, once it has it

    def connection_lost(self, exc: Exception | None) -> None:
        if self._target is not None:
            self._target.connection_lost(exc)
        else:
            self._lost = (exc,)

    def hand_over(self, transport: asyncio.Transport, target: asyncio.Protocol) -> None:
        """Make ``target`` the transport's protocol, and give it what came meanwhile."""
        self._target = target
        transport.set_protocol(target)
        if not isinstance(target, ClientConnection):
            target.connection_made(transport)
        for data in self._data:
            target.data_received(data)
        self._data.clear()
        if self._eof and not target.eof_received():
            transport.close()
        if self._lost is not None:
            target.connection_lost(self._lost[0])
