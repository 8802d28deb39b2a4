"""``Upgrade: h2c``: an HTTP/1.1 request on a cleartext connection that asks for the
connection to go on in HTTP/2 (RFC 7540 §3.2; RFC 9113 §3.1 deprecates the mechanism,
but clients still send it: ``curl --http2`` on an ``http://`` URL does).

Rules of this module:

1. Only on cleartext, only for an HTTP/1.1 request without a body, and only one that
   asks properly (``Upgrade`` naming ``h2c``, ``Connection: Upgrade``, exactly one
   ``HTTP2-Settings``). Anything else, and an upgrade declined for any reason (a
   settings header that does not decode, a connection closing), is served over
   HTTP/1.1 as if it had not asked: RFC 7540 §3.2 lets a server ignore the header,
   and hypercorn and nghttpd decline a request with a body the same way (its body
   would have to be read in HTTP/1.1 before the 101).
2. The upgrade is made once the request has been read (an HTTP/1.1 engine lets a 101
   go only then): the HTTP/2 connection is made and the client's settings applied
   first, then the 101 goes, the transport is handed over
   (:meth:`~.h2_protocol.H2ServerProtocol.take_over`), and the request is served as
   stream 1. The application sees one request, over HTTP/2.
3. Every other request goes straight to the application's delegate: one look at the
   ``Upgrade`` header, and one call more, on the HTTP/1.1 path of a server with
   ``http2=True``; nothing on any other server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tornadish._http.contract import (
    HTTPConnection,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    StreamClosedError,
)
from tornadish._http.h2_session import H2ConnectionError, Head
from tornadish._http.headers import HTTPHeaders, HTTPOutputError
from tornadish._http.parse import RequestStartLine, ResponseStartLine
from tornadish._server.h2_protocol import H2ServerProtocol
from tornadish.log import gen_log

__all__ = ["H2cUpgrade"]

# What the 101 says (RFC 7540 §3.2).
_SWITCHING = [(b"Connection", b"Upgrade"), (b"Upgrade", b"h2c")]

# Headers of the HTTP/1.1 request that mean nothing on stream 1 (RFC 9113 §8.2.2), and
# Host, which becomes :authority.
_HOP_BY_HOP = frozenset(
    (
        "connection",
        "upgrade",
        "http2-settings",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "host",
    )
)


def _tokens(value: str | None) -> set[str]:
    if not value:
        return set()
    return {token.strip().lower() for token in value.split(",")}


class H2cUpgrade(HTTPServerConnectionDelegate):
    """The HTTP/1.1 side's delegate on a cleartext server with ``http2=True``: takes
    the requests that ask for ``h2c`` (see the module's rules), passes the others to
    ``delegate``. ``make_h2`` makes the HTTP/2 connection an upgrade hands over to."""

    __slots__ = ("delegate", "make_h2")

    def __init__(
        self, delegate: HTTPServerConnectionDelegate, make_h2: Callable[[], H2ServerProtocol]
    ) -> None:
        self.delegate = delegate
        self.make_h2 = make_h2

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        """A delegate that looks at the request's head before the application does."""
        return _Probe(self, server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        """Passed on to the application's delegate."""
        self.delegate.on_close(server_conn)


class _Probe(HTTPMessageDelegate):
    """One HTTP/1.1 request: an upgrade to make (rule 2), or the application's."""

    __slots__ = ("_conn", "_headers", "_inner", "_owner", "_server_conn", "_settings", "_start")

    def __init__(self, owner: H2cUpgrade, server_conn: object, conn: HTTPConnection) -> None:
        self._owner = owner
        self._server_conn = server_conn
        self._conn = conn
        self._inner: HTTPMessageDelegate | None = None
        self._settings: bytes | None = None
        self._start: RequestStartLine | None = None
        self._headers: HTTPHeaders | None = None

    def headers_received(
        self, start_line: RequestStartLine | ResponseStartLine, headers: HTTPHeaders
    ) -> Awaitable[None] | None:
        if headers.joined.get("Upgrade") is not None and isinstance(start_line, RequestStartLine):
            settings = self._asks_for_h2c(start_line, headers)
            if settings is not None:
                self._settings = settings
                self._start = start_line
                self._headers = headers
                return None
        inner = self._inner = self._owner.delegate.start_request(self._server_conn, self._conn)
        return inner.headers_received(start_line, headers)

    def _asks_for_h2c(self, start_line: RequestStartLine, headers: HTTPHeaders) -> bytes | None:
        """The ``HTTP2-Settings`` value of a request that may be upgraded (rule 1)."""
        if start_line.version != "HTTP/1.1" or "h2c" not in _tokens(headers.get("Upgrade")):
            return None
        if "upgrade" not in _tokens(headers.get("Connection")):
            return None
        if getattr(self._conn, "upgrade", None) is None:
            return None  # a connection that cannot hand its transport over
        if self._conn.get_extra_info("ssl_object") is not None:
            return None  # h2c is cleartext only (TLS negotiates h2 by ALPN)
        settings = headers.get_list("HTTP2-Settings")
        if len(settings) != 1:
            return None
        if headers.get("Content-Length", "0") != "0" or "Transfer-Encoding" in headers:
            return None
        return settings[0].strip().encode("latin-1")

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        inner = self._inner
        if inner is None:  # (no body was announced: a peer not saying what it sends)
            self._decline()
            inner = self._inner
            assert inner is not None
        return inner.data_received(chunk)

    def finish(self) -> None:
        if self._inner is not None:
            self._inner.finish()
            return
        if not self._upgrade():
            self._decline(then_finish=True)

    def on_connection_close(self) -> None:
        if self._inner is not None:
            self._inner.on_connection_close()

    def _upgrade(self) -> bool:
        """Rule 2: the 101, then HTTP/2 with this request as stream 1. False if the
        upgrade was not made (the request is then the application's, over HTTP/1.1)."""
        start, headers, settings = self._start, self._headers, self._settings
        assert start is not None and headers is not None and settings is not None
        raw = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.get_all()
            if name.lower() not in _HOP_BY_HOP
        ]
        host = headers.get("Host")
        head = Head(1, start.method, start.path, host, "http", raw, True)
        h2 = self._owner.make_h2()
        try:
            h2.upgrade_request(settings, head)
        except H2ConnectionError as e:
            gen_log.info("Declining Upgrade: h2c: %s", e)
            return False
        try:
            self._conn.upgrade(_SWITCHING, h2)  # type: ignore[attr-defined]
        except StreamClosedError:
            return True  # the client has gone: nothing to answer
        except HTTPOutputError as e:
            gen_log.info("Declining Upgrade: h2c: %s", e)
            return False
        return True

    def _decline(self, then_finish: bool = False) -> None:
        """Serve the request over HTTP/1.1 after all (rule 1)."""
        start, headers = self._start, self._headers
        assert start is not None and headers is not None
        inner = self._inner = self._owner.delegate.start_request(self._server_conn, self._conn)
        result = inner.headers_received(start, headers)
        if not then_finish:
            return
        if result is None:
            inner.finish()
            return
        fut = asyncio.ensure_future(result)
        fut.add_done_callback(lambda f: _then_finish(f, inner))


def _then_finish(fut: asyncio.Future[None], inner: HTTPMessageDelegate) -> None:
    if fut.cancelled():
        return
    exc = fut.exception()
    if exc is not None:
        gen_log.error("Uncaught exception starting a request", exc_info=exc)
        return
    inner.finish()
