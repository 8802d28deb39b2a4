"""The client's WebSocket handshake: connect, send the upgrade request, read the ``101``.

Rules of this module:

1. h11 writes the request and reads the answer; what the request says and what makes an
   answer acceptable are :mod:`tornadish._http.websocket`'s rules, the ones the server
   side uses too. Once a ``101`` passes them the transport goes, in the same call, to a
   :class:`~tornadish._io.websocket.WebSocketProtocol`, so no frame that follows the
   ``101`` can be missed.
2. It knows nothing of the public face: the ``WebSocketClientConnection`` is a sink it is
   handed, told of the open socket through a callback; a refusal becomes whatever
   exception the face's ``http_error`` makes of the status.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import h11

from tornadish._client.proxy import open_connection, proxy_for
from tornadish._client.request import client_ssl_context
from tornadish._http.contract import StreamClosedError, WebSocketSink
from tornadish._http.headers import HTTPHeaders
from tornadish._http.websocket import (
    DeflateAgreement,
    WebSocketError,
    check_accept_response,
    client_deflate_agreement,
    client_request_headers,
    deflate_offer,
    deflate_parameters,
    new_key,
)
from tornadish._http.ws_engines import resolve_ws
from tornadish._io.websocket import WebSocketProtocol

__all__ = ["connect_websocket"]

#: Seconds allowed for connecting, and then for the handshake, unless told.
_DEFAULT_TIMEOUT = 20.0

#: Told of the open socket before any frame is delivered: the protocol now carrying
#: it, the ``101``'s headers, the subprotocol the server chose.
Opened = Callable[[WebSocketProtocol, HTTPHeaders, str | None], None]


class _ClientHandshake(asyncio.Protocol):
    """Sends the upgrade request with h11 and reads the answer; on a valid 101 switches
    the transport to a :class:`WebSocketProtocol` in the same call, so that no frame
    that follows the 101 can be missed."""

    def __init__(
        self,
        request: h11.Request,
        key: str,
        subprotocols: list[str],
        deflate: tuple[dict[str, Any], dict[str, Any]] | None,
        make_protocol: Callable[[DeflateAgreement | None], WebSocketProtocol],
        opened: Opened,
        http_error: Callable[[int, bytes], Exception],
    ) -> None:
        self._h11 = h11.Connection(h11.CLIENT)
        self._request = request
        self._key = key
        self._subprotocols = subprotocols
        # The permessage-deflate offer: its parameters and the compression options.
        self._deflate = deflate
        self._make_protocol = make_protocol
        self._opened = opened
        self._http_error = http_error
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        conn = self._h11
        transport.write(conn.send(self._request) + conn.send(h11.EndOfMessage()))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        self._h11.receive_data(data)
        try:
            while True:
                event = self._h11.next_event()
                if event is h11.NEED_DATA:
                    return
                if isinstance(event, h11.InformationalResponse):
                    if event.status_code == 101:
                        self._switch(event)
                        return
                    continue  # 100 Continue and friends
                if isinstance(event, h11.Response):
                    self._fail(self._http_error(event.status_code, event.reason))
                    return
                self._fail(WebSocketError(f"unexpected {type(event).__name__}"))
                return
        except h11.RemoteProtocolError as e:
            self._fail(WebSocketError(f"bad handshake response: {e}"))
        except WebSocketError as e:
            self._fail(e)

    def _switch(self, response: h11.InformationalResponse) -> None:
        headers = HTTPHeaders()
        for name, value in response.headers:
            headers.add(name.decode("latin-1"), value.decode("latin-1"))
        deflate = self._deflate
        accepted = check_accept_response(
            headers, self._key, self._subprotocols, deflate is not None
        )
        agreement = None
        if accepted.deflate is not None:
            assert deflate is not None
            agreement = client_deflate_agreement(deflate[0], accepted.deflate, deflate[1])
        protocol = self._make_protocol(agreement)
        self._opened(protocol, headers, accepted.subprotocol)
        transport = self.transport
        assert transport is not None
        transport.set_protocol(protocol)
        self.done.set_result(None)
        protocol.take_over(transport, bytes(self._h11.trailing_data[0]), False)

    def _fail(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(StreamClosedError(exc))


def _ssl_context(request: Any) -> ssl.SSLContext:
    if request is None:
        return client_ssl_context()
    options = request.ssl_options
    if isinstance(options, ssl.SSLContext):
        return options
    # A bare HTTPRequest leaves unset options None: certificates are checked unless
    # validate_cert is False.
    return client_ssl_context(
        options if isinstance(options, dict) else None,
        validate_cert=request.validate_cert is not False,
        ca_certs=request.ca_certs,
        client_cert=request.client_cert,
        client_key=request.client_key,
    )


async def connect_websocket(
    url: Any,
    sink: WebSocketSink,
    opened: Opened,
    http_error: Callable[[int, bytes], Exception],
    *,
    connect_timeout: float | None,
    compression_options: dict[str, Any] | None,
    ping_interval: float | None,
    ping_timeout: float | None,
    max_message_size: int,
    subprotocols: list[str],
    resolver: Any,
    ws: str | None = None,
) -> None:
    """Open a WebSocket to ``url`` (a ``ws://``/``wss://`` URL, or an ``HTTPRequest``
    carrying headers and TLS options) whose messages go to ``sink``; returns once the
    server's ``101`` has been accepted and ``opened`` told. A refused handshake raises
    ``http_error(status, reason)``'s exception or :class:`WebSocketError`. ``ws`` picks
    the engine that parses the frames (:func:`~tornadish._http.ws_engines.resolve_ws`)."""
    engine = resolve_ws(ws)
    request: Any = None if isinstance(url, str) else url
    url_str: str = url if request is None else request.url
    parts = urlsplit(url_str)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"Unsupported WebSocket URL {url_str!r}")
    secure = scheme == "wss"
    host = parts.hostname
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    default_port = parts.port is None or parts.port == (443 if secure else 80)
    netloc = host if ":" not in host else f"[{host}]"
    key = new_key()
    deflate = None
    offer = None
    if compression_options is not None:
        parameters = deflate_parameters(compression_options)
        deflate = (parameters, compression_options)
        offer = deflate_offer(parameters)
    headers = client_request_headers(
        netloc if default_port else f"{netloc}:{port}", key, subprotocols, offer
    )
    request_timeout: float | None = None
    if request is not None:
        reserved = {name.lower() for name, _ in headers}
        for name, value in request.headers.get_all():
            if name.lower() not in reserved:
                headers.append((name, value))
        if connect_timeout is None:
            connect_timeout = request.connect_timeout
        request_timeout = request.request_timeout
    h11_request = h11.Request(method="GET", target=target, headers=headers)

    def make_protocol(agreement: DeflateAgreement | None) -> WebSocketProtocol:
        return WebSocketProtocol(
            sink,
            client=True,
            deflate=agreement,
            max_message_size=max_message_size,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            engine=engine,
        )

    loop = asyncio.get_running_loop()
    address: Any = host
    proxy = proxy_for(request, scheme, host) if request is not None else None
    if resolver is not None and proxy is None:
        addresses = await resolver.resolve(host, port)
        address, port = addresses[0][1][:2]
    handshake = _ClientHandshake(
        h11_request, key, subprotocols, deflate, make_protocol, opened, http_error
    )
    context = _ssl_context(request) if secure else None
    connect: Awaitable[tuple[asyncio.BaseTransport, Any]]
    if proxy is not None:
        # Always a tunnel: an upgrade cannot be forwarded like a plain request.
        connect = open_connection(proxy, lambda: handshake, host, port, tunnel=True, ssl=context)
    else:
        connect = loop.create_connection(
            lambda: handshake,
            address,
            port,
            ssl=context,
            server_hostname=host if secure else None,
        )
    try:
        transport, _ = await asyncio.wait_for(connect, connect_timeout or _DEFAULT_TIMEOUT)
    except asyncio.TimeoutError:
        raise WebSocketError("Timeout while connecting") from None
    try:
        await asyncio.wait_for(asyncio.shield(handshake.done), request_timeout or _DEFAULT_TIMEOUT)
    except asyncio.TimeoutError:
        transport.abort()
        raise WebSocketError("Timeout during the WebSocket handshake") from None
    except BaseException:
        transport.close()
        raise
