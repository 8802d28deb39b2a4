"""HTTP client: Tornado's ``AsyncHTTPClient`` and ``HTTPClient`` on asyncio and h11.

.. code-block:: python

    from tornadish.httpclient import AsyncHTTPClient

    async def get_weather(url: str) -> bytes:
        response = await AsyncHTTPClient().fetch(url)
        return response.body

Unlike Tornado's simple client, connections are kept alive and reused per origin
(:mod:`tornadish._client.pool`); the protocol work is h11's, driven by
:mod:`tornadish._client.connection`.
``max_clients`` bounds the requests in flight; the others queue in arrival order.
"""

from __future__ import annotations

import asyncio
import functools
import io
import math
import ssl
import time
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from tornadish._client.connection import (
    BodyProducer,
    RequestTimeout,
    ResponseReader,
    StreamClosed,
    StreamRefused,
)
from tornadish._client.pool import ConnectionPool
from tornadish._client.proxy import ProxyError
from tornadish._client.request import PreparedRequest, redirect_request
from tornadish._client.tracing import client_span
from tornadish._http.headers import HTTPHeaders
from tornadish._http.parse import format_timestamp, responses
from tornadish.ioloop import IOLoop, _current_asyncio_loop, _running_loop
from tornadish.util import import_object

# Idle this long in the pool, a connection may have met a server's idle timeout (the
# shortest common ones are 2 to 5 seconds): its sudden close is worth one retry.
_STALE_AFTER = 1.0

__all__ = [
    "AsyncHTTPClient",
    "HTTPClient",
    "HTTPClientError",
    "HTTPError",
    "HTTPRequest",
    "HTTPResponse",
    "HTTPStreamClosedError",
    "HTTPTimeoutError",
    "ProxyError",
]


class HTTPClientError(Exception):
    """A request failed: an HTTP error status, or ``599`` for a timeout or lost connection.

    ``code`` is the status, ``message`` its text, ``response`` the :class:`HTTPResponse`
    when there was one (``None`` for 599 errors). Also available as ``HTTPError``.
    """

    def __init__(
        self, code: int, message: str | None = None, response: HTTPResponse | None = None
    ) -> None:
        self.code = code
        self.message = message or responses.get(code, "Unknown")
        self.response = response
        super().__init__(code, message, response)

    def __str__(self) -> str:
        return f"HTTP {self.code}: {self.message}"

    # Tornado shows the same text for both; tracebacks and logs read better for it.
    __repr__ = __str__


HTTPError = HTTPClientError


class HTTPTimeoutError(HTTPClientError):
    """Code 599: connecting, waiting in the queue, or the request itself took too long."""

    def __init__(self, message: str) -> None:
        super().__init__(599, message)

    def __str__(self) -> str:
        return self.message


class HTTPStreamClosedError(HTTPClientError):
    """Code 599: the connection closed (or the response was unusable) before it ended."""

    def __init__(self, message: str) -> None:
        super().__init__(599, message)

    def __str__(self) -> str:
        return self.message


class HTTPRequest:
    """One HTTP request and the options for fetching it; Tornado's arguments and names.

    Arguments left at ``None`` take the client's ``defaults``, then these: connect and
    request timeouts of 20 s, ``follow_redirects=True``, ``max_redirects=5``,
    ``decompress_response=True`` (``use_gzip`` is its old name), ``validate_cert=True``.

    - ``headers``: a dict or :class:`HTTPHeaders`; ``body``: str (UTF-8) or bytes, or a
      ``body_producer``, ``async def producer(write)`` calling ``await write(chunk)``
      (sent chunked unless a ``Content-Length`` header is given).
    - ``auth_username``/``auth_password``/``auth_mode`` (``"basic"`` only);
      ``if_modified_since`` (timestamp or datetime); ``user_agent``.
    - ``connect_timeout``, ``request_timeout`` in seconds (0 or None: no limit).
    - ``streaming_callback(chunk)`` receives the body instead of ``response.body``;
      ``header_callback(line)`` each header line, the status line first, ``"\\r\\n"`` last.
    - ``validate_cert``, ``ca_certs``, ``client_cert``, ``client_key``, or
      ``ssl_options`` (an ``ssl.SSLContext`` or dict, which overrides them);
      ``network_interface`` (a local address to connect from); ``allow_ipv6``.
    - ``allow_nonstandard_methods`` allows a body with GET or none with POST;
      ``expect_100_continue`` sends the body only after the server's ``100 Continue``.
    - A proxy: Tornado's ``proxy_host``/``proxy_port``/``proxy_username``/
      ``proxy_password`` (``proxy_auth_mode="basic"``), or ``proxy`` as one URL
      (``"http://user:pass@host:3128"``, ``"socks5://host:1080"``, ``"socks5h://..."``;
      SOCKS needs the ``socks`` extra); with ``trust_env=True`` and no proxy given,
      ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` and ``NO_PROXY`` from the environment.
      ``https`` goes through a ``CONNECT`` tunnel, plain ``http`` is forwarded.
    - ``http2=True`` speaks HTTP/2 to an ``https`` server that offers it by ALPN
      (HTTP/1.1 to one that does not; ``http`` URLs stay HTTP/1.1), every concurrent
      fetch to one origin multiplexed on one connection; ``http2="prior_knowledge"``
      also speaks it over cleartext from the first byte (``curl
      --http2-prior-knowledge``). Needs the ``http2`` extra (the h2 library).
    - ``prepare_curl_callback`` is not supported (``NotImplementedError``).
    """

    _DEFAULTS: ClassVar[dict[str, Any]] = {
        "connect_timeout": 20.0,
        "request_timeout": 20.0,
        "follow_redirects": True,
        "max_redirects": 5,
        "decompress_response": True,
        "proxy_password": "",
        "allow_nonstandard_methods": False,
        "validate_cert": True,
        "http2": False,
    }

    def __init__(
        self,
        url: str,
        method: str = "GET",
        headers: dict[str, str] | HTTPHeaders | None = None,
        body: str | bytes | None = None,
        auth_username: str | None = None,
        auth_password: str | None = None,
        auth_mode: str | None = None,
        connect_timeout: float | None = None,
        request_timeout: float | None = None,
        if_modified_since: Any = None,
        follow_redirects: bool | None = None,
        max_redirects: int | None = None,
        user_agent: str | None = None,
        use_gzip: bool | None = None,
        network_interface: str | None = None,
        streaming_callback: Callable[[bytes], None] | None = None,
        header_callback: Callable[[str], None] | None = None,
        prepare_curl_callback: Callable[[Any], None] | None = None,
        proxy_host: str | None = None,
        proxy_port: int | None = None,
        proxy_username: str | None = None,
        proxy_password: str | None = None,
        proxy_auth_mode: str | None = None,
        allow_nonstandard_methods: bool | None = None,
        validate_cert: bool | None = None,
        ca_certs: str | None = None,
        allow_ipv6: bool | None = None,
        client_key: str | None = None,
        client_cert: str | None = None,
        body_producer: BodyProducer | None = None,
        expect_100_continue: bool = False,
        decompress_response: bool | None = None,
        ssl_options: dict[str, Any] | ssl.SSLContext | None = None,
        *,
        proxy: str | None = None,
        trust_env: bool | None = None,
        http2: bool | str | None = None,
    ) -> None:
        self.headers = headers
        if if_modified_since:
            self.headers["If-Modified-Since"] = format_timestamp(if_modified_since)
        self.url = url
        self.method = method
        self.body = body
        self.body_producer = body_producer
        self.auth_username = auth_username
        self.auth_password = auth_password
        self.auth_mode = auth_mode
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self.decompress_response = use_gzip if decompress_response is None else decompress_response
        self.network_interface = network_interface
        self.streaming_callback = streaming_callback
        self.header_callback = header_callback
        self.prepare_curl_callback = prepare_curl_callback
        self.proxy_host = proxy_host
        self.proxy_port = proxy_port
        self.proxy_username = proxy_username
        self.proxy_password = proxy_password
        self.proxy_auth_mode = proxy_auth_mode
        self.allow_nonstandard_methods = allow_nonstandard_methods
        self.validate_cert = validate_cert
        self.ca_certs = ca_certs
        self.allow_ipv6 = allow_ipv6
        self.client_key = client_key
        self.client_cert = client_cert
        self.expect_100_continue = expect_100_continue
        self.ssl_options = ssl_options
        self.proxy = proxy
        self.trust_env = trust_env
        self.http2 = http2
        self.start_time = time.time()

    @property
    def headers(self) -> HTTPHeaders:
        """The request headers (always an :class:`HTTPHeaders`)."""
        return self._headers

    @headers.setter
    def headers(self, value: dict[str, str] | HTTPHeaders | None) -> None:
        if value is None:
            self._headers = HTTPHeaders()
        elif isinstance(value, HTTPHeaders):
            self._headers = value
        else:
            self._headers = HTTPHeaders(value)

    @property
    def body(self) -> bytes | None:
        """The request body as bytes (a str is stored UTF-8 encoded)."""
        return self._body

    @body.setter
    def body(self, value: str | bytes | None) -> None:
        self._body = value.encode("utf-8") if isinstance(value, str) else value


# The options every fetch reads: resolved once, when the proxy is made (one pass, instead
# of a __getattr__ call per read).
_FETCH_OPTIONS = (
    "url",
    "method",
    "headers",
    "body",
    "body_producer",
    "auth_username",
    "auth_password",
    "connect_timeout",
    "request_timeout",
    "follow_redirects",
    "max_redirects",
    "user_agent",
    "decompress_response",
    "network_interface",
    "streaming_callback",
    "header_callback",
    "prepare_curl_callback",
    "proxy_host",
    "proxy",
    "trust_env",
    "allow_nonstandard_methods",
    "allow_ipv6",
    "expect_100_continue",
    "http2",
)


class _RequestProxy:
    """A request whose unset (``None``) options read through to the client's defaults."""

    def __init__(self, request: HTTPRequest, defaults: dict[str, Any] | None) -> None:
        self.request = request
        self.defaults = defaults
        fallback = defaults if defaults is not None else HTTPRequest._DEFAULTS
        resolved = self.__dict__
        for name in _FETCH_OPTIONS:
            value = getattr(request, name)
            resolved[name] = value if value is not None else fallback.get(name)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.request, name)
        if value is not None:
            return value
        if self.defaults is not None:
            return self.defaults.get(name)
        return HTTPRequest._DEFAULTS.get(name)


class HTTPResponse:
    """The answer to a fetch.

    ``code``, ``reason``, ``headers`` (:class:`HTTPHeaders`), ``body`` (bytes, read from
    ``buffer``, a ``BytesIO``), ``effective_url`` (after redirects), ``request`` (what was
    asked for), ``error`` (an :class:`HTTPClientError` for a status outside 2xx, else
    ``None``), ``request_time`` (seconds, redirects included), ``start_time`` (a
    ``time.time()`` value) and ``time_info`` (always empty: curl's timing breakdown).
    """

    def __init__(
        self,
        request: HTTPRequest | _RequestProxy,
        code: int,
        headers: HTTPHeaders | None = None,
        buffer: io.BytesIO | None = None,
        effective_url: str | None = None,
        error: BaseException | None = None,
        request_time: float | None = None,
        time_info: dict[str, float] | None = None,
        reason: str | None = None,
        start_time: float | None = None,
    ) -> None:
        self.request = request.request if isinstance(request, _RequestProxy) else request
        self.code = code
        self.reason = reason or responses.get(code, "Unknown")
        self.headers = headers if headers is not None else HTTPHeaders()
        self.buffer = buffer
        self._body: bytes | None = None
        self.effective_url = self.request.url if effective_url is None else effective_url
        self._error_is_response_code = False
        if error is None and not 200 <= code < 300:
            self._error_is_response_code = True
            error = HTTPClientError(code, message=self.reason, response=self)
        self.error = error
        self.start_time = start_time
        self.request_time = request_time
        self.time_info = time_info or {}

    @property
    def body(self) -> bytes:
        """The response body (``b""`` when there is none or it was streamed)."""
        if self.buffer is None:
            return b""
        if self._body is None:
            self._body = self.buffer.getvalue()
        return self._body

    def rethrow(self) -> None:
        """Raise ``error`` if the request failed."""
        if self.error:
            raise self.error

    def __repr__(self) -> str:
        args = ",".join(f"{name}={value!r}" for name, value in sorted(vars(self).items()))
        return f"{type(self).__name__}({args})"


class AsyncHTTPClient:
    """A non-blocking HTTP client with a keep-alive connection pool.

    ``AsyncHTTPClient()`` returns the same instance for every call on one event loop;
    ``force_instance=True`` gives a private one (then :meth:`close` it when done).
    Constructor keywords (or :meth:`configure` ones): ``max_clients`` (10) requests at
    once, the rest queue; ``defaults`` for unset :class:`HTTPRequest` options;
    ``max_body_size`` and ``max_buffer_size`` (100 MiB); ``max_header_size`` (64 KiB);
    ``hostname_mapping`` ({host or (host, port): replacement});
    ``idle_connection_timeout`` (15 s), how long an unused connection is kept; and
    ``http2`` (False), the default of :class:`HTTPRequest`'s ``http2``: True speaks
    HTTP/2 where an ``https`` server offers it, concurrent fetches to one origin
    sharing one connection (``AsyncHTTPClient(http2=True)``, or
    ``AsyncHTTPClient.configure(None, http2=True)``).

    .. code-block:: python

        client = AsyncHTTPClient()
        responses = await gen.multi([client.fetch(url) for url in urls])
    """

    _impl_class: ClassVar[type[AsyncHTTPClient] | None] = None
    _impl_kwargs: ClassVar[dict[str, Any]] = {}
    # The shared instances Tornado's API demands: one per (event loop, client class).
    _instances: ClassVar[
        weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[type, AsyncHTTPClient]]
    ] = weakref.WeakKeyDictionary()

    defaults: dict[str, Any]
    max_clients: int
    _loop: asyncio.AbstractEventLoop | None
    _shared_as: type | None = None  # the class whose shared instance this is

    def __new__(cls, force_instance: bool = False, **kwargs: Any) -> AsyncHTTPClient:
        impl = cls
        if cls is AsyncHTTPClient and AsyncHTTPClient._impl_class is not None:
            impl = AsyncHTTPClient._impl_class
        merged = {**AsyncHTTPClient._impl_kwargs, **kwargs}
        if force_instance:
            client = object.__new__(impl)
            client._loop = None
            client.initialize(**merged)
            return client
        loop = _current_asyncio_loop()
        # One shared instance per loop and per class called, as Tornado's: a
        # SimpleAsyncHTTPClient(...) is not the AsyncHTTPClient() already made.
        per_loop = cls._instances.setdefault(loop, {})
        existing = per_loop.get(cls)
        if existing is not None:
            return existing
        client = object.__new__(impl)
        client._loop = loop
        client._shared_as = cls
        client.initialize(**merged)
        per_loop[cls] = client
        return client

    def __init__(self, force_instance: bool = False, **kwargs: Any) -> None:
        pass  # all set up in __new__/initialize: a shared instance must not be reset

    def initialize(
        self,
        max_clients: int = 10,
        defaults: dict[str, Any] | None = None,
        hostname_mapping: dict[Any, Any] | None = None,
        max_buffer_size: int = 104857600,
        resolver: Any = None,
        max_header_size: int | None = None,
        max_body_size: int | None = None,
        idle_connection_timeout: float = 15.0,
        http2: bool | str | None = None,
    ) -> None:
        """Set the client up (Tornado's ``Configurable`` hook; subclasses may extend it)."""
        self.max_clients = max_clients
        #: A ``tornadish.netutil.Resolver`` names are resolved with (the loop's otherwise).
        self.resolver = resolver
        self.defaults = dict(HTTPRequest._DEFAULTS)
        if defaults is not None:
            self.defaults.update(defaults)
        if http2 is not None:
            self.defaults["http2"] = http2
        self.hostname_mapping = dict(hostname_mapping or {})
        self.max_buffer_size = max_buffer_size
        self.max_header_size = max_header_size or 65536
        self.max_body_size = max_buffer_size if max_body_size is None else max_body_size
        self.idle_connection_timeout = idle_connection_timeout
        self._closed = False
        self._pool: ConnectionPool | None = None
        self._ssl_contexts: dict[Any, ssl.SSLContext] = {}

    @classmethod
    def configure(cls, impl: type[AsyncHTTPClient] | str | None, **kwargs: Any) -> None:
        """Choose the class ``AsyncHTTPClient()`` makes (``None``: this one) and the
        keyword arguments every new instance gets, e.g. ``configure(None, max_clients=50)``.
        """
        if isinstance(impl, str):
            impl = import_object(impl)
        if impl is not None and not (isinstance(impl, type) and issubclass(impl, cls)):
            raise ValueError(f"Invalid subclass of {cls.__name__}: {impl!r}")
        AsyncHTTPClient._impl_class = impl
        AsyncHTTPClient._impl_kwargs = dict(kwargs)

    @classmethod
    def configured_class(cls) -> type[AsyncHTTPClient]:
        """The class ``AsyncHTTPClient()`` instantiates."""
        return AsyncHTTPClient._impl_class or AsyncHTTPClient

    @classmethod
    def _save_configuration(cls) -> tuple[type[AsyncHTTPClient] | None, dict[str, Any]]:
        """The current :meth:`configure` choice (Tornado's ``Configurable`` hook, for
        tests that change it and put it back)."""
        return AsyncHTTPClient._impl_class, dict(AsyncHTTPClient._impl_kwargs)

    @classmethod
    def _restore_configuration(
        cls, saved: tuple[type[AsyncHTTPClient] | None, dict[str, Any]]
    ) -> None:
        """Put back a choice :meth:`_save_configuration` returned."""
        AsyncHTTPClient._impl_class, AsyncHTTPClient._impl_kwargs = saved[0], dict(saved[1])

    @property
    def queue(self) -> tuple[Any, ...]:
        """The fetches waiting for one of the ``max_clients`` slots, first in line first
        (Tornado's ``SimpleAsyncHTTPClient.queue``; its length is what callers read)."""
        pool = self._pool
        return pool.waiters if pool is not None else ()

    def close(self) -> None:
        """Close idle connections and stop accepting fetches (in-flight ones finish)."""
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            self._pool.close()
        if self._loop is not None:
            per_loop = self._instances.get(self._loop)
            key = self._shared_as
            if per_loop is not None and key is not None and per_loop.get(key) is self:
                del per_loop[key]

    def fetch(
        self, request: str | HTTPRequest, raise_error: bool = True, **kwargs: Any
    ) -> asyncio.Future[HTTPResponse]:
        """Fetch a URL or :class:`HTTPRequest`; the result is an awaitable future.

        ``kwargs`` build the request from a URL (``fetch(url, method="POST", body=...)``).
        A status outside 2xx raises :class:`HTTPClientError` (with ``.response``) unless
        ``raise_error=False``; timeouts and connection failures raise even then.
        """
        if self._closed:
            raise RuntimeError("fetch() called on closed AsyncHTTPClient")
        if not isinstance(request, HTTPRequest):
            request = HTTPRequest(url=request, **kwargs)
        elif kwargs:
            raise ValueError("kwargs can't be used if request is an HTTPRequest object")
        else:
            # The caller's request gets its own copy of the headers, as in Tornado.
            request.headers = HTTPHeaders(request.headers)
        return _current_asyncio_loop().create_task(self._fetch(request, raise_error))

    # -- one fetch --------------------------------------------------------------------

    async def _fetch(self, request: HTTPRequest, raise_error: bool) -> HTTPResponse:
        loop = asyncio.get_running_loop()
        pool = self._pool_for(loop)
        start_time = time.time()
        started = loop.time()
        current = _RequestProxy(request, self.defaults)
        try:
            while True:
                # Inside an OpenTelemetry trace: a client span, and the traceparent sent.
                span = client_span(current)
                hop = self._fetch_once(pool, current)
                reader = await (hop if span is None else span.around(hop))
                if not reader.redirect:
                    break
                location = reader.headers["Location"]
                following = redirect_request(current, reader.code, location)
                current = _RequestProxy(following, self.defaults)
        except RequestTimeout as e:
            raise HTTPTimeoutError(e.message) from None
        except StreamClosed as e:
            if isinstance(e.real_error, OSError):
                raise e.real_error from None
            raise HTTPStreamClosedError(e.message) from None
        response = HTTPResponse(
            request,
            reader.code,
            reason=reader.reason,
            headers=reader.headers,
            buffer=io.BytesIO(reader.body),
            effective_url=current.url,
            request_time=loop.time() - started,
            start_time=start_time,
        )
        if response.error is not None and (raise_error or not response._error_is_response_code):
            raise response.error
        return response

    def _pool_for(self, loop: asyncio.AbstractEventLoop) -> ConnectionPool:
        pool = self._pool
        if pool is not None and pool.loop is loop:
            return pool
        if pool is not None:
            if pool.active:
                raise RuntimeError("this AsyncHTTPClient is busy on another event loop")
            try:
                pool.close()
            except RuntimeError:
                pass  # that loop is closed, and its connections with it
        self._loop = self._loop or loop
        pool = self._pool = ConnectionPool(
            self.max_clients, self.idle_connection_timeout, self.max_header_size, self.resolver
        )
        return pool

    async def _fetch_once(self, pool: ConnectionPool, req: Any) -> ResponseReader:
        """One request/response exchange (no redirects), queued behind ``max_clients``."""
        prepared = PreparedRequest(req, self.hostname_mapping, self._ssl_contexts)
        max_redirects: int = req.max_redirects
        connect_timeout: float | None = req.connect_timeout or None
        request_timeout: float | None = req.request_timeout or None
        loop = pool.loop
        now = loop.time()
        deadline = now + request_timeout if request_timeout else None
        # As in Tornado, the wait in the queue is bounded by the shorter timeout.
        queue_limit = min(connect_timeout or math.inf, request_timeout or math.inf)
        await pool.acquire(now + queue_limit if queue_limit != math.inf else None)
        try:
            origin = prepared.origin
            for attempt in range(2):
                # A retry goes to a new connection: the other idle ones may be stale too.
                conn: Any = None
                if attempt == 0 and not origin.http2:
                    conn = pool.checkout(origin)
                if conn is None:
                    limit = connect_timeout
                    if deadline is not None:
                        left = deadline - loop.time()
                        limit = left if limit is None else min(limit, left)
                    if origin.http2:  # shared by every fetch to the origin
                        conn = await pool.connect_h2(origin, limit, fresh=attempt > 0)
                    else:
                        conn = await pool.connect(origin, limit)
                reader = ResponseReader(
                    decompress=bool(req.decompress_response),
                    max_body_size=self.max_body_size,
                    header_callback=req.header_callback,
                    streaming_callback=req.streaming_callback,
                    redirect_ok=bool(req.follow_redirects) and max_redirects > 0,
                )
                try:
                    reusable = await conn.exchange(
                        prepared.method,
                        prepared.target,
                        prepared.headers,
                        prepared.body,
                        prepared.producer,
                        req.expect_100_continue,
                        reader,
                        deadline,
                    )
                except StreamClosed as e:
                    # A kept-alive connection the server dropped just as we used it, after
                    # it had sat idle long enough for a server's idle timeout to close it:
                    # the request most likely never reached the server, so one retry on a
                    # fresh connection is safe. A connection reused at once that closes on
                    # a request (a server that exits on it) is reported, as Tornado does.
                    # An HTTP/2 stream the server refused, or left above its GOAWAY, was
                    # not processed at all (RFC 9113 §8.7): any method may be retried.
                    retry = (
                        prepared.retry_ok
                        and conn.exchanges
                        and conn.idled_for >= _STALE_AFTER
                        and not e.response_started
                    ) or (isinstance(e, StreamRefused) and prepared.producer is None)
                    if attempt == 0 and retry:
                        continue
                    raise
                if conn.multiplexed:
                    if not origin.http2:
                        # ALPN chose h2 on a context that offered it for another fetch:
                        # this origin did not ask to share it.
                        conn.close_when_idle()
                elif reusable:
                    pool.checkin(conn)
                return reader
            raise AssertionError("unreachable")
        finally:
            pool.release()


class HTTPClient:
    """A blocking HTTP client: each :meth:`fetch` runs a private event loop to completion.

    For scripts and threads without an event loop; inside a coroutine, ``await
    AsyncHTTPClient().fetch(...)`` instead (calling this there raises ``RuntimeError``).

    >>> client = HTTPClient()  # doctest: +SKIP
    >>> client.fetch("http://www.example.com/").code  # doctest: +SKIP
    200
    >>> client.close()  # doctest: +SKIP
    """

    def __init__(
        self, async_client_class: type[AsyncHTTPClient] | None = None, **kwargs: Any
    ) -> None:
        self._closed = True
        _refuse_in_running_loop()
        self._io_loop = IOLoop(make_current=False)
        cls = async_client_class or AsyncHTTPClient
        self._async_client = cls(force_instance=True, **kwargs)
        self._closed = False

    def fetch(self, request: str | HTTPRequest, **kwargs: Any) -> HTTPResponse:
        """Fetch a URL or :class:`HTTPRequest` and return the response; errors as
        :meth:`AsyncHTTPClient.fetch` raises them (``raise_error=False`` works too)."""
        if self._closed:
            raise RuntimeError("fetch() called on closed HTTPClient")
        _refuse_in_running_loop()
        call = functools.partial(self._async_client.fetch, request, **kwargs)
        response: HTTPResponse = self._io_loop.run_sync(call)
        return response

    def close(self) -> None:
        """Close the connections and the private event loop."""
        if self._closed:
            return
        self._closed = True
        self._async_client.close()
        # One more turn of the loop lets the closed transports finish closing.
        self._io_loop.run_sync(lambda: asyncio.sleep(0))
        self._io_loop.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True) and _running_loop() is None:
            try:
                self.close()
            except Exception:
                pass  # at interpreter exit the loop machinery may be gone already


def _refuse_in_running_loop() -> None:
    if _running_loop() is not None:
        raise RuntimeError(
            "HTTPClient cannot be used inside a running event loop; "
            "use 'await AsyncHTTPClient().fetch(...)' instead"
        )
