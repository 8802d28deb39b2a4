"""The implementation behind :mod:`tornadish.httputil` (its public face re-exports it)."""

from __future__ import annotations

import http.cookies
import time
from typing import Any

from tornadish._http.contract import HTTPConnection
from tornadish._http.forms import HTTPFile, get_parse_body_config, parse_body_arguments
from tornadish._http.headers import HTTPHeaders, HTTPInputError
from tornadish._http.parse import (
    RequestStartLine,
    parse_cookie,
    parse_qs_bytes,
    split_host_and_port,
)
from tornadish._http.request_id import REQUEST_ID_HEADER, request_id
from tornadish._http.session import valid_host

__all__ = ["HTTPServerRequest"]


class HTTPServerRequest:
    """A single HTTP request as the application sees it.

    Attributes mirror Tornado's: ``method``, ``uri``, ``path``, ``query``, ``version``,
    ``headers``, ``body``, ``remote_ip``, ``protocol``, ``host``, ``host_name``,
    ``arguments``, ``query_arguments``, ``body_arguments``, ``files``, ``connection``,
    ``cookies``. ``arguments`` holds query and body arguments together.

    Query arguments and cookies are parsed on first use, so a handler that never reads
    them never pays for them; so is ``id`` (tornadish's own: the request id). A query
    string with more fields than a urlencoded body may have
    (``ParseUrlEncodedConfig.max_arguments``) is refused at once, though, as in Tornado:
    the constructor raises :class:`HTTPInputError` (a 400 from a server).
    """

    path: str
    query: str
    _query_arguments: dict[str, list[bytes]] | None
    _arguments: dict[str, list[bytes]] | None

    def __init__(
        self,
        method: str | None = None,
        uri: str | None = None,
        version: str = "HTTP/1.0",
        headers: HTTPHeaders | None = None,
        body: bytes | None = None,
        host: str | None = None,
        files: dict[str, list[HTTPFile]] | None = None,
        connection: HTTPConnection | None = None,
        start_line: RequestStartLine | None = None,
        server_connection: object | None = None,
    ) -> None:
        if start_line is not None:
            method, uri, version = start_line
        self.method = method or "GET"
        self.uri = uri or "/"
        self.version = version
        self.headers = headers if headers is not None else HTTPHeaders()
        self.body = body or b""
        self.connection = connection
        self.server_connection = server_connection
        self.remote_ip: str | None = None
        self.protocol: str = "http"
        if connection is not None:
            self.remote_ip = connection.remote_ip
            self.protocol = connection.scheme
        self.host = host or self.headers.get("Host") or "127.0.0.1"
        self.host_name = split_host_and_port(self.host.lower())[0]
        self.files = files if files is not None else {}
        self.body_arguments: dict[str, list[bytes]] = {}
        self._start_time = time.time()
        self._finish_time: float | None = None
        self.path, _, self.query = self.uri.partition("?")
        if self.query:
            _check_query_size(self.query)
        self._query_arguments = None
        self._arguments = None
        self._cookies: dict[str, http.cookies.Morsel[str]] | None = None

    @classmethod
    def from_wire(
        cls,
        method: str,
        uri: str,
        version: str,
        headers: HTTPHeaders,
        connection: HTTPConnection | None,
    ) -> HTTPServerRequest:
        """The request as a connection's request head gives it (what the web layer's
        dispatcher builds): the result of the constructor, none of its defaulting;
        ``remote_ip`` and ``protocol`` are the connection's ``remote_ip`` and
        ``scheme``."""
        self = cls.__new__(cls)
        self.method = method
        authority = None
        if uri[:1] != "/" and uri[:4].lower() == "http" and "://" in uri[:8]:
            authority, uri = _absolute_form(uri)
        self.uri = uri
        self.version = version
        self.headers = headers
        self.body = b""
        self.connection = connection
        self.server_connection = connection
        if connection is not None:
            self.remote_ip = connection.remote_ip
            self.protocol = connection.scheme
        else:
            self.remote_ip = None
            self.protocol = "http"
        if authority is None:
            # headers.joined, without the property's call when nothing is stale.
            joined = headers._joined if headers._stale is None else headers.joined
            host = joined.get("Host")
        else:
            host = authority
        if host:
            self.host = host
            self.host_name = _host_name(host)
        else:
            self.host = "127.0.0.1"
            self.host_name = "127.0.0.1"
        self.files = {}
        self.body_arguments = {}
        self._start_time = time.time()
        self._finish_time = None
        self.path, _, self.query = uri.partition("?")
        if self.query:
            _check_query_size(self.query)
        self._query_arguments = None
        self._arguments = None
        self._cookies = None
        return self

    # -- arguments --------------------------------------------------------------

    @property
    def query_arguments(self) -> dict[str, list[bytes]]:
        """Arguments from the query string (values are bytes, as in Tornado)."""
        if self._query_arguments is None:
            self._query_arguments = (
                parse_qs_bytes(self.query, keep_blank_values=True) if self.query else {}
            )
        return self._query_arguments

    @query_arguments.setter
    def query_arguments(self, value: dict[str, list[bytes]]) -> None:
        self._query_arguments = value

    @property
    def arguments(self) -> dict[str, list[bytes]]:
        """Query and body arguments together (query values first)."""
        if self._arguments is None:
            merged = {k: list(v) for k, v in self.query_arguments.items()}
            for k, v in self.body_arguments.items():
                merged.setdefault(k, []).extend(v)
            self._arguments = merged
        return self._arguments

    @arguments.setter
    def arguments(self, value: dict[str, list[bytes]]) -> None:
        self._arguments = value

    def parse_body(self) -> None:
        """Fill ``body_arguments``/``files`` from a urlencoded or multipart ``body``
        (raises ``HTTPInputError`` on a malformed one)."""
        parse_body_arguments(
            self.headers.get("Content-Type", ""),
            self.body,
            self.body_arguments,
            self.files,
            self.headers,
        )
        if self._arguments is not None:
            for k, v in self.body_arguments.items():
                self._arguments.setdefault(k, []).extend(v)

    _parse_body = parse_body  # Tornado's name

    # -- cookies ----------------------------------------------------------------

    @property
    def cookies(self) -> dict[str, http.cookies.Morsel[str]]:
        """The request's cookies as ``Morsel`` objects (malformed ones are skipped)."""
        if self._cookies is None:
            cookies: dict[str, http.cookies.Morsel[str]] = {}
            header = self.headers.get("Cookie")
            if header:
                try:
                    parsed = parse_cookie(header)
                except Exception:
                    parsed = {}
                for name, value in parsed.items():
                    morsel: http.cookies.Morsel[str] = http.cookies.Morsel()
                    try:
                        morsel.set(name, value, value)
                    except http.cookies.CookieError:
                        continue
                    cookies[name] = morsel
            self._cookies = cookies
        return self._cookies

    # -- misc -------------------------------------------------------------------

    def full_url(self) -> str:
        """The URL the client asked for, scheme and host included."""
        return self.protocol + "://" + self.host + self.uri

    _id: str | None = None

    @property
    def id(self) -> str:
        """This request's id: the ``X-Request-ID`` header's value when it is fit to log
        (1 to 128 letters, digits or ``-_.:+/=@``), else a new random one (32 hex
        digits). Made the first time it is read, then kept; what the JSON access log and
        the ``X-Request-ID`` response header carry (``tornadish._http.request_id``)."""
        rid = self._id
        if rid is None:
            rid = self._id = request_id(self.headers.get(REQUEST_ID_HEADER))
        return rid

    def mark_finished(self) -> None:
        """The response is complete: :meth:`request_time` stops counting now."""
        self._finish_time = time.time()

    def request_time(self) -> float:
        """Seconds since the request arrived (until it finished, once it has)."""
        if self._finish_time is None:
            return time.time() - self._start_time
        return self._finish_time - self._start_time

    def get_ssl_certificate(self, binary_form: bool = False) -> Any:
        """The client's TLS certificate, when the connection is TLS and one was sent."""
        connection = self.connection
        if connection is None:
            return None
        ssl_object = connection.get_extra_info("ssl_object")
        if ssl_object is None:
            return None
        return ssl_object.getpeercert(binary_form=binary_form)

    def __repr__(self) -> str:
        attrs = ("protocol", "host", "method", "uri", "version", "remote_ip")
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in attrs)
        return f"{type(self).__name__}({args})"


def _check_query_size(query: str) -> None:
    # Only counted here (parse_qs_bytes counts fields the same way); parsing still
    # waits for first use.
    if query.count("&") >= get_parse_body_config().urlencoded.max_arguments:
        raise HTTPInputError("Invalid query string: Max number of fields exceeded")


_HOST_NAMES: dict[str, str] = {}


def _host_name(host: str) -> str:
    # Host headers repeat across requests; caching avoids re-splitting every time.
    try:
        return _HOST_NAMES[host]
    except KeyError:
        name = split_host_and_port(host.lower())[0]
        if len(_HOST_NAMES) < 256:
            _HOST_NAMES[host] = name
        return name


def _absolute_form(uri: str) -> tuple[str, str]:
    """``(authority, origin-form target)`` of an absolute-form request target
    (``GET http://example.com/a?b HTTP/1.1``, which RFC 9112 §3.2.2 has servers accept;
    the target's host then stands for the request's, whatever ``Host`` says). An
    authority that is no valid host is an :class:`HTTPInputError` (400)."""
    scheme_end = uri.index("://") + 3
    slash = uri.find("/", scheme_end)
    query = uri.find("?", scheme_end)
    end = min(i for i in (slash, query, len(uri)) if i != -1)
    authority = uri[scheme_end:end]
    rest = uri[end:]
    if not authority or "@" in authority or not valid_host(authority.encode("latin-1")):
        raise HTTPInputError(f"Invalid host in the request target: {authority!r}")
    if not rest.startswith("/"):
        rest = "/" + rest  # "http://host" and "http://host?q" name the root
    return authority, rest
