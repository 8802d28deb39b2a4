"""Reaching a server through a proxy: which proxy a request uses, and the tunnel.

Rules of this module:

1. A request names its proxy as Tornado's options do (``proxy_host``, ``proxy_port``,
   ``proxy_username``, ``proxy_password``, ``proxy_auth_mode="basic"``) or as one URL
   (``proxy="http://user:pass@host:3128"``, ``"socks5://..."``, ``"socks5h://..."``,
   ``"socks4://..."``); with ``trust_env=True`` and neither given, the environment's
   ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` and ``NO_PROXY`` decide, as curl and
   httpx read them (the standard library's ``urllib.request`` parses them).
2. Through an HTTP proxy, plain ``http`` requests are forwarded: the connection goes to
   the proxy, the request line carries the absolute URL and ``Proxy-Authorization``
   (what :mod:`.request` prepares). Everything else (``https``, ``ws``, ``wss``) goes
   through a ``CONNECT`` tunnel, whose exchange h11 reads; TLS then runs inside it, with
   the origin's name. A refused ``CONNECT`` raises :class:`ProxyError` with the proxy's
   status.
3. SOCKS proxies are python-socks' business (the ``socks`` extra): it returns a
   connected socket, on which the connection's transport is made.
4. :func:`open_connection` is ``loop.create_connection`` through a proxy: what comes
   back is a plain transport whose protocol has had ``connection_made``, exactly as
   without one, so the HTTP and WebSocket clients treat both alike.
"""

from __future__ import annotations

import asyncio
import base64
import urllib.request
from collections.abc import Callable
from ssl import SSLContext
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote, unquote, urlsplit

import h11

from tornadish._http.parse import encode_username_password

__all__ = ["Proxy", "ProxyError", "open_connection", "proxy_for"]

_P = TypeVar("_P", bound=asyncio.BaseProtocol)

_DEFAULT_PORTS = {"http": 80, "https": 443, "socks4": 1080, "socks5": 1080, "socks5h": 1080}
# The longest CONNECT answer head read before giving up on the proxy.
_MAX_CONNECT_HEAD = 64 * 1024


class ProxyError(ConnectionError):
    """The proxy refused to open the tunnel (``code``: its HTTP status, or None)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class Proxy(NamedTuple):
    """A proxy, as parsed from a URL or Tornado's options (hashable: part of the key
    under which connections are pooled)."""

    scheme: str  # "http", "socks4", "socks5" or "socks5h"
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def forwards_http(self) -> bool:
        """Plain-HTTP requests go to it as absolute URLs (an HTTP proxy)."""
        return self.scheme == "http"

    def authorization(self) -> bytes | None:
        """The ``Proxy-Authorization`` value (Basic), None without credentials."""
        if self.username is None:
            return None
        token = base64.b64encode(encode_username_password(self.username, self.password or ""))
        return b"Basic " + token

    def url(self) -> str:
        """The proxy as a URL (credentials included), as python-socks takes it."""
        auth = ""
        if self.username is not None:
            auth = quote(self.username, safe="") + ":" + quote(self.password or "", safe="")
            auth += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{auth}{host}:{self.port}"


def parse_proxy(url: str) -> Proxy:
    """A :class:`Proxy` from ``http://[user:pass@]host[:port]`` or a ``socks*://`` URL;
    ``ValueError`` for anything else."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    scheme = parts.scheme.lower()
    if scheme == "socks":
        scheme = "socks5"
    if scheme not in _DEFAULT_PORTS or scheme == "https" or not parts.hostname:
        raise ValueError(f"Unsupported proxy URL {url!r} (http://, socks4://, socks5://)")
    username = password = None
    if parts.username is not None:
        username, password = unquote(parts.username), unquote(parts.password or "")
    return Proxy(scheme, parts.hostname, parts.port or _DEFAULT_PORTS[scheme], username, password)


def proxy_for(req: Any, scheme: str, host: str) -> Proxy | None:
    """The proxy a request to ``scheme://host`` goes through (see the module's rules),
    or None."""
    if req.proxy_host is not None:
        if req.proxy_auth_mode not in (None, "basic"):
            raise ValueError(f"unsupported proxy_auth_mode {req.proxy_auth_mode}")
        username = req.proxy_username
        return Proxy(
            "http",
            req.proxy_host,
            req.proxy_port or 80,
            username,
            (req.proxy_password or "") if username is not None else None,
        )
    if req.proxy:
        return parse_proxy(req.proxy)
    if req.trust_env:
        return _from_environment(scheme, host)
    return None


def _from_environment(scheme: str, host: str) -> Proxy | None:
    found = urllib.request.getproxies_environment()
    # (proxy_bypass_environment is public in urllib.request, but absent from typeshed.)
    bypass: Callable[[str, dict[str, str]], bool] = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not found or bypass(host, found):
        return None
    # wss goes where https does; ws where http does.
    key = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    url = found.get(key) or found.get("all")
    return parse_proxy(url) if url else None


async def open_connection(
    proxy: Proxy,
    factory: Callable[[], _P],
    host: str,
    port: int,
    *,
    tunnel: bool,
    ssl: SSLContext | None = None,
) -> tuple[asyncio.Transport, _P]:
    """``loop.create_connection(factory, host, port, ssl=ssl, server_hostname=host)``
    through ``proxy``: to the proxy itself where ``tunnel`` is false (a forwarded
    plain-HTTP request), else through a ``CONNECT`` tunnel or SOCKS to ``host:port``,
    with TLS to ``host`` inside it where ``ssl`` is given."""
    loop = asyncio.get_running_loop()
    server_hostname = host if ssl is not None else None
    if proxy.scheme.startswith("socks"):
        sock = await _socks_connect(proxy, host, port)
        transport, protocol = await loop.create_connection(
            factory, sock=sock, ssl=ssl, server_hostname=server_hostname
        )
        return transport, protocol
    if not tunnel:
        transport, protocol = await loop.create_connection(factory, proxy.host, proxy.port)
        return transport, protocol
    connect = _Connect(host, port, proxy.authorization())
    transport, _ = await loop.create_connection(lambda: connect, proxy.host, proxy.port)
    try:
        leftover = await connect.done
    except BaseException:
        transport.abort()
        raise
    protocol = factory()
    if ssl is not None:
        # (A TLS server speaks only after our hello: nothing can be left over.)
        try:
            tls = await loop.start_tls(transport, protocol, ssl, server_hostname=server_hostname)
        except BaseException:
            transport.abort()
            raise
        if tls is None:
            raise ProxyError("the tunnel closed during the TLS handshake")
        protocol.connection_made(tls)
        return tls, protocol
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    if leftover:
        protocol.data_received(leftover)  # type: ignore[attr-defined]
    return transport, protocol


async def _socks_connect(proxy: Proxy, host: str, port: int) -> Any:
    try:
        from python_socks.async_.asyncio import Proxy as SocksProxy
    except ImportError:
        raise ProxyError(
            f"a {proxy.scheme} proxy needs python-socks: pip install 'tornadish[socks]'"
        ) from None
    # socks5h (and socks4a) resolve the name at the proxy; socks5 resolves it here.
    rdns = proxy.scheme == "socks5h"
    url = proxy.url().replace("socks5h://", "socks5://", 1)
    socks = SocksProxy.from_url(url, rdns=rdns)
    try:
        return await socks.connect(dest_host=host, dest_port=port)
    except OSError:
        raise
    except Exception as e:  # python-socks' ProxyError and friends
        raise ProxyError(f"SOCKS proxy {proxy.host}:{proxy.port} refused: {e}") from e


class _Connect(asyncio.Protocol):
    """Sends ``CONNECT host:port`` and reads the proxy's answer with h11; ``done``
    resolves to the bytes that came after the answer's head (normally none)."""

    def __init__(self, host: str, port: int, authorization: bytes | None) -> None:
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_CONNECT_HEAD)
        authority = (f"[{host}]" if ":" in host else host) + f":{port}"
        headers = [("Host", authority)]
        if authorization is not None:
            headers.append(("Proxy-Authorization", authorization.decode("latin-1")))
        self._request = h11.Request(method="CONNECT", target=authority, headers=headers)
        self.done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self._h11.send(self._request))  # type: ignore[attr-defined]
        self._h11.send(h11.EndOfMessage())

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        self._h11.receive_data(data)
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as e:
                self.done.set_exception(ProxyError(f"bad answer to CONNECT from the proxy: {e}"))
                return
            if event is h11.NEED_DATA:
                return
            if not isinstance(event, h11.InformationalResponse):
                break  # (a 1xx before the answer: read on)
        if isinstance(event, h11.Response) and 200 <= event.status_code < 300:
            leftover, _ = self._h11.trailing_data
            self.done.set_result(bytes(leftover))
            return
        status = getattr(event, "status_code", None)
        reason = getattr(event, "reason", b"").decode("latin-1")
        self.done.set_exception(ProxyError(f"proxy refused CONNECT: {status} {reason}", status))

    def eof_received(self) -> bool:
        self.connection_lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(
                ProxyError(f"the proxy closed the connection before answering CONNECT ({exc})")
            )
