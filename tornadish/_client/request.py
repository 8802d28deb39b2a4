"""From an ``HTTPRequest``'s options to what goes on the wire, and on to its redirects.

Pure preparation, no I/O: the URL is checked and split, the headers Tornado's client adds
are merged with the caller's (never mutating them), the origin and TLS context a pooled
connection must match are chosen, and a followed redirect becomes a new request with
the method, body and credentials rules browsers (and Tornado) apply.

``req`` is the public face's request proxy: an ``HTTPRequest`` whose unset options read
through to the client's defaults; this module only reads attribute names from it.
"""

from __future__ import annotations

import base64
import copy
import functools
import socket
import ssl
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urljoin, urlsplit

from tornadish import version
from tornadish._client.connection_base import BodyProducer
from tornadish._client.pool import Origin
from tornadish._client.proxy import Proxy, proxy_for
from tornadish._http.headers import HTTPHeaders
from tornadish._http.parse import encode_username_password

__all__ = ["PreparedRequest", "client_ssl_context", "redirect_request"]

USER_AGENT = f"Tornadish/{version}"
DEFAULT_PORTS = {"http": 80, "https": 443}
_BODY_METHODS = frozenset(["POST", "PATCH", "PUT"])
# Safe to send twice (RFC 9110 §9.2.2): what a stale keep-alive connection may retry.
_IDEMPOTENT = frozenset(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"])
# Headers that describe a body, dropped when a redirect turns the request into a GET.
_BODY_HEADERS = ("Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding")
# Credentials that must not follow a redirect to another origin.
_CREDENTIAL_HEADERS = ("Authorization", "Cookie", "Proxy-Authorization")
# ALPN offer of a client that asked for HTTP/2 (RFC 9113 §3.2), in order of preference.
_ALPN = ["h2", "http/1.1"]
_PRIOR_KNOWLEDGE = ("prior_knowledge", "prior-knowledge")
# Characters left alone when a target with non-ASCII text is percent-encoded.
_TARGET_SAFE = "/?&=%+:;@!$'()*,~[]"


class _URL(NamedTuple):
    scheme: str
    host: str
    port: int
    netloc: str  # for the Host header: the URL's, without user information
    target: str  # path and query, ASCII
    username: str | None
    password: str | None


@functools.lru_cache(maxsize=256)
def _parse_url(url: str) -> _URL:
    # Cached: a client usually fetches the same few URLs again and again.
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"Unsupported url scheme: {url}")
    host = parts.hostname
    if not host:
        raise ValueError(f"No host in URL: {url}")
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    if not target.isascii():
        target = quote(target, safe=_TARGET_SAFE)
    username = password = None
    if parts.username is not None:
        username, password = unquote(parts.username), unquote(parts.password or "")
    netloc = parts.netloc.rpartition("@")[2]
    return _URL(
        scheme, host, parts.port or DEFAULT_PORTS[scheme], netloc, target, username, password
    )


class PreparedRequest:
    """One hop of a fetch, ready to send: method, target, headers, body and origin."""

    __slots__ = ("body", "headers", "method", "origin", "producer", "retry_ok", "target")

    def __init__(
        self,
        req: Any,
        hostname_mapping: dict[Any, Any],
        ssl_contexts: dict[Any, ssl.SSLContext],
    ) -> None:
        url = _parse_url(req.url)
        if req.prepare_curl_callback is not None:
            raise NotImplementedError("prepare_curl_callback not supported")
        method: str = req.method
        body: bytes | None = req.body
        producer: BodyProducer | None = req.body_producer
        if not req.allow_nonstandard_methods:
            expected = method in _BODY_METHODS
            if expected != (body is not None or producer is not None):
                raise ValueError(
                    f"Body must {'not ' if expected else ''}be None for method {method} "
                    "(unless allow_nonstandard_methods is true)"
                )
        self.method = method
        self.body = body
        self.producer = producer
        self.target = url.target
        self.headers = _headers(req, url, method, body, producer)
        self.origin = _origin(req, url, hostname_mapping, ssl_contexts)
        proxy = self.origin.proxy
        if proxy is not None and proxy.forwards_http and url.scheme == "http":
            # Forwarded by an HTTP proxy: the request line names the whole URL, and the
            # proxy's credentials go along (RFC 9112 §3.2.2, RFC 9110 §11.7.2).
            self.target = f"http://{url.netloc}{url.target}"
            authorization = proxy.authorization()
            if authorization is not None:
                self.headers.append((b"Proxy-Authorization", authorization))
        self.retry_ok = producer is None and method in _IDEMPOTENT


def _headers(
    req: Any, url: _URL, method: str, body: bytes | None, producer: BodyProducer | None
) -> list[tuple[bytes, bytes]]:
    user: HTTPHeaders = req.headers
    ours: dict[str, str] = {}
    if "Host" not in user:
        ours["Host"] = url.netloc
    user_agent = req.user_agent
    if user_agent:
        ours["User-Agent"] = user_agent
    elif "User-Agent" not in user:
        ours["User-Agent"] = USER_AGENT
    if req.decompress_response:
        ours["Accept-Encoding"] = "gzip"
    username, password = req.auth_username, req.auth_password
    if username is None and url.username is not None:
        username, password = url.username, url.password
    if username is not None:
        if req.auth_mode not in (None, "basic"):
            raise ValueError(f"unsupported auth_mode {req.auth_mode}")
        token = base64.b64encode(encode_username_password(username, password or ""))
        ours["Authorization"] = "Basic " + token.decode("ascii")
    if body is not None:
        ours["Content-Length"] = str(len(body))
    if method == "POST" and "Content-Type" not in user:
        ours["Content-Type"] = "application/x-www-form-urlencoded"
    if producer is not None and body is None and "Content-Length" not in user:
        ours["Transfer-Encoding"] = "chunked"
    if req.expect_100_continue:
        ours["Expect"] = "100-continue"
    pairs = [(k, v) for k, v in user.get_all() if k not in ours] if user else []
    pairs.extend(ours.items())
    # A value may be given as bytes (Tornado accepts them): sent as they are.
    return [(k.encode("latin-1"), _header_bytes(v)) for k, v in pairs]


def _header_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")


def _http2(req: Any, scheme: str, proxy: Proxy | None) -> bool:
    """Whether to speak HTTP/2 (``http2``: True, over TLS by ALPN; ``"prior_knowledge"``,
    over cleartext too, from the first byte)."""
    asked = req.http2
    if not asked:
        return False
    if asked is not True and asked not in _PRIOR_KNOWLEDGE:
        raise ValueError(f"http2 must be True, False or 'prior_knowledge', not {asked!r}")
    if scheme == "https":
        return True
    # Cleartext: only by prior knowledge (no Upgrade: h2c), and not to a proxy that
    # forwards plain HTTP requests (it speaks HTTP/1.1 to us).
    return asked in _PRIOR_KNOWLEDGE and not (proxy is not None and proxy.forwards_http)


def _origin(
    req: Any, url: _URL, mapping: dict[Any, Any], ssl_contexts: dict[Any, ssl.SSLContext]
) -> Origin:
    host = url.host
    address, address_port = host, url.port
    if mapping:
        mapped = mapping.get((host, url.port), mapping.get(host))
        if isinstance(mapped, tuple):
            address, address_port = mapped
        elif mapped is not None:
            address = mapped
    # Through a proxy the origin's name goes to it as given (a hostname_mapping only
    # redirects direct connections).
    proxy = proxy_for(req, url.scheme, host)
    if proxy is not None:
        address, address_port = host, url.port
    http2 = _http2(req, url.scheme, proxy)
    context = _ssl_context(req, ssl_contexts, http2) if url.scheme == "https" else None
    family = socket.AF_INET if req.allow_ipv6 is False else socket.AF_UNSPEC
    server_hostname = host if context is not None else None
    return Origin(
        url.scheme,
        address,
        address_port,
        context,
        server_hostname,
        req.network_interface,
        family,
        proxy,
        http2,
    )


def _ssl_context(req: Any, cache: dict[Any, ssl.SSLContext], http2: bool) -> ssl.SSLContext:
    options = req.ssl_options
    if isinstance(options, ssl.SSLContext):
        if http2:
            # ALPN is a setting of the context (Python has none per connection): the
            # caller's context offers h2 from now on; a connection that gets it is
            # read as HTTP/2 (tornadish._client.pool) whichever fetch opened it.
            options.set_alpn_protocols(_ALPN)
        return options
    if options is not None:
        key: Any = ("ssl_options", tuple(sorted((k, repr(v)) for k, v in options.items())))
    else:
        key = (bool(req.validate_cert), req.ca_certs, req.client_cert, req.client_key)
    key = (key, http2)
    # Cached: loading the system's CA store costs milliseconds, and one context per
    # setting keeps pooled connections with the same TLS setup together.
    context = cache.get(key)
    if context is None:
        context = cache[key] = client_ssl_context(
            options,
            validate_cert=bool(req.validate_cert),
            ca_certs=req.ca_certs,
            client_cert=req.client_cert,
            client_key=req.client_key,
        )
        if http2:
            # RFC 9113 §3.2: offer h2, and HTTP/1.1 for a server that has no HTTP/2.
            context.set_alpn_protocols(_ALPN)
    return context


def client_ssl_context(
    options: dict[str, Any] | None = None,
    *,
    validate_cert: bool = True,
    ca_certs: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
) -> ssl.SSLContext:
    """The TLS context of a client connection (``HTTPClient`` and
    ``websocket_connect`` alike): from ``ssl_options`` when given as a dict (Tornado's
    ``ca_certs``, ``certfile``/``keyfile``, ``cert_reqs``, ``ciphers``), which then
    override the other arguments, else from ``HTTPRequest``'s own TLS options."""
    if options is not None:
        context = ssl.create_default_context(cafile=options.get("ca_certs"))
        if "certfile" in options:
            context.load_cert_chain(options["certfile"], options.get("keyfile"))
        if options.get("cert_reqs") is not None:
            if options["cert_reqs"] == ssl.CERT_NONE:
                context.check_hostname = False
            context.verify_mode = options["cert_reqs"]
        if "ciphers" in options:
            context.set_ciphers(options["ciphers"])
        return context
    context = ssl.create_default_context(cafile=ca_certs)
    if not validate_cert:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert is not None:
        context.load_cert_chain(client_cert, client_key)
    return context


def redirect_request(req: Any, code: int, location: str) -> Any:
    """The ``HTTPRequest`` that follows a ``code`` redirect to ``location``."""
    new = copy.copy(req.request)
    new.headers = HTTPHeaders(req.headers)
    new.url = urljoin(req.url, location)
    new.max_redirects = req.max_redirects - 1
    new.headers.pop("Host", None)
    if (code == 303 and req.method != "HEAD") or (code in (301, 302) and req.method == "POST"):
        new.method = "GET"
        new.body = None
        new.body_producer = None
        for name in _BODY_HEADERS:
            new.headers.pop(name, None)
    if _origin_key(new.url) != _origin_key(req.url):
        for name in _CREDENTIAL_HEADERS:
            new.headers.pop(name, None)
        new.auth_username = new.auth_password = None
    return new


def _origin_key(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, parts.hostname, parts.port or DEFAULT_PORTS.get(scheme)
