"""``RequestHandler``: the class applications subclass.

The face is Tornado's. The request path is kept short: a handler whose methods are plain
functions runs start to finish without an event-loop task; a coroutine (``async def``
``prepare``/``get``/...) switches to one task for the rest of the request.
"""

from __future__ import annotations

import asyncio
import http.cookies
import inspect
import re
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from tornadish import escape
from tornadish._http.contract import StreamClosedError
from tornadish._http.headers import HTTPInputError, HTTPOutputError
from tornadish._http.parse import responses
from tornadish._http.request import HTTPServerRequest
from tornadish._web.cookies import morsel_to_header
from tornadish._web.drain import hold, shutting_down
from tornadish._web.errors import HTTPError
from tornadish._web.handler_errors import ErrorsMixin, forbids_body
from tornadish._web.handler_policy import HandlerPolicyMixin
from tornadish._web.request_input import InputMixin
from tornadish._web.response_head import (
    body_etag,
    default_headers,
    etag_matches,
    header_value,
)
from tornadish._web.security import SecurityMixin
from tornadish._web.static_url import StaticURLMixin
from tornadish._web.templating import TemplateMixin
from tornadish._web.uploads import MultipartUpload
from tornadish.log import app_log

if TYPE_CHECKING:
    from tornadish._web.application import Application
    from tornadish._web.observe import Observation

__all__ = ["RequestHandler", "stream_request_body"]

_REASON_PHRASE = re.compile(r"[\t \x21-\x7e\x80-\xff]+")  # RFC 9112 reason-phrase

_H = TypeVar("_H", bound=type["RequestHandler"])


def _done_future() -> asyncio.Future[None]:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fut.set_result(None)
    return fut


class RequestHandler(
    ErrorsMixin, InputMixin, SecurityMixin, StaticURLMixin, TemplateMixin, HandlerPolicyMixin
):
    """Base class for HTTP request handlers.

    Subclasses implement ``get``, ``post``, ... (plain or ``async def``); path groups of
    the matching route arrive as arguments. ``initialize(**kwargs)`` receives the route's
    keyword arguments; ``prepare()`` runs before the method and ``on_finish()`` after the
    response has been sent (also when the client went away early).

    >>> class MainHandler(RequestHandler):
    ...     def get(self):
    ...         self.write("Hello, world")
    """

    SUPPORTED_METHODS: tuple[str, ...] = (
        "GET",
        "HEAD",
        "POST",
        "DELETE",
        "PATCH",
        "PUT",
        "OPTIONS",
    )

    _stream_request_body = False
    # A multipart body parsed as it arrived, given by the dispatcher (HandlerRun): its
    # parse error is raised in _execute, its temporary files closed in _run_on_finish.
    _uploads: MultipartUpload | None = None
    # With @stream_request_body (set by HandlerRun): resolved once prepare() has run,
    # and once the whole body has arrived (failed by on_connection_close if it never will).
    _prepared_future: asyncio.Future[None] | None = None
    _body_future: asyncio.Future[None] | None = None
    # This request's future from the connection for shutting_down (tornadish._web.drain).
    _shutdown_future: asyncio.Future[None] | None = None
    # What observes this request (tornadish._web.observe), when the application has it.
    _observation: Observation | None = None

    path_args: list[Any]
    path_kwargs: dict[str, Any]

    def __init__(self, application: Application, request: HTTPServerRequest, **kwargs: Any) -> None:
        self.application = application
        self.request = request
        self._headers_written = False
        self._finished = False
        self._auto_finish = True
        self._new_cookie: dict[str, http.cookies.Morsel[str]] | None = None
        self._on_finish_called = False
        self.path_args = []
        self.path_kwargs = {}
        self.clear()
        conn = request.connection
        if conn is not None:
            conn.set_close_callback(self._connection_closed)
        self.initialize(**kwargs)

    def _initialize(self) -> None:
        """Hook for subclass initialization; receives the route's keyword arguments.

        >>> class ProfileHandler(RequestHandler):
        ...     def initialize(self, database):
        ...         self.database = database
        """

    # Typed as any callable (Tornado does the same), so that overrides taking the
    # route's own keyword arguments type-check without ``# type: ignore[override]``.
    initialize: Callable[..., None] = _initialize

    @property
    def settings(self) -> dict[str, Any]:
        """``self.application.settings``."""
        return self.application.settings

    # Default method implementations: 405.
    def _unimplemented_method(self, *args: Any, **kwargs: Any) -> None:
        raise HTTPError(405)

    head: Any = _unimplemented_method
    get: Any = _unimplemented_method
    post: Any = _unimplemented_method
    delete: Any = _unimplemented_method
    patch: Any = _unimplemented_method
    put: Any = _unimplemented_method
    options: Any = _unimplemented_method

    def prepare(self) -> Awaitable[None] | None:
        """Called before the HTTP method; may be ``async``. Finishing here skips the
        method."""
        return None

    def on_finish(self) -> Awaitable[None] | None:
        """Called once the response is complete (or the connection is gone); use it for
        clean-up and logging. May be ``async`` (run as a task, errors logged)."""
        return None

    def on_connection_close(self) -> None:
        """Called when the client closes the connection before the response is finished
        (long polling: stop waiting). Not called for ordinary keep-alive closes."""
        body = self._body_future
        if body is not None and not body.done():
            body.set_exception(StreamClosedError())  # the body will never complete
            body.exception()

    @property
    def shutting_down(self) -> asyncio.Future[None]:
        """A future that completes when the server handling this request starts a
        graceful shutdown (done already if it has): end a stream, answer a long poll.
        Each read returns a new shielded future, so cancelling one waiter leaves the
        others be. It never completes where nothing drains (WSGI).

        >>> async def get(self):                                   # doctest: +SKIP
        ...     news = asyncio.ensure_future(self.next_news())
        ...     await asyncio.wait([news, self.shutting_down], return_when="FIRST_COMPLETED")
        ...     self.write(news.result() if news.done() else {"again": True})
        """
        return shutting_down(self)

    # Set when the HTTP method returned without finishing (``_auto_finish`` off) and when
    # the connection went away; together they mean no finish() is coming (Tornado #517).
    _parked = False
    _connection_lost = False

    def _connection_closed(self) -> None:
        self._connection_lost = True
        try:
            self.on_connection_close()
        finally:
            self._client_gone()  # disconnected() resolves
            if self._parked and not self._finished:
                self._park_ended()

    def _park(self) -> None:
        self._parked = True
        if self._connection_lost:
            self._park_ended()

    def _park_ended(self) -> None:
        # The client left and nothing in the request path will finish the response:
        # the request is over, and so is the connection (a half-closed one would sit in
        # CLOSE_WAIT for good). A late finish() is still harmless.
        self._run_on_finish()
        conn = self.request.connection
        if conn is not None:
            conn.close()

    def clear(self) -> None:
        """Reset headers and body to the defaults for a new response."""
        self._headers = default_headers()
        self.set_default_headers()
        self._write_buffer: list[bytes] = []
        self._status_code = 200
        self._reason = "OK"

    def set_default_headers(self) -> None:
        """Override to set headers every response of this handler starts with."""

    # -- status and headers -------------------------------------------------------

    def set_status(self, status_code: int, reason: str | None = None) -> None:
        """Set the response status (``reason`` defaults to the standard phrase).

        A ``reason`` that is not a valid reason phrase (CR/LF would split the response)
        or contains ``<`` becomes ``"Unknown"``, as in Tornado.
        """
        self._status_code = status_code
        if reason is None:
            self._reason = responses.get(status_code, "Unknown")
        elif "<" in reason or _REASON_PHRASE.fullmatch(reason) is None:
            self._reason = "Unknown"
        else:
            self._reason = reason

    def get_status(self) -> int:
        """The response status code."""
        return self._status_code

    def set_header(self, name: str, value: Any) -> None:
        """Set (replace) a response header; ``value`` may be str, bytes, int or datetime."""
        self._headers[name] = self._convert_header_value(value)

    def add_header(self, name: str, value: Any) -> None:
        """Add a response header value, keeping earlier ones (``Set-Cookie`` style)."""
        self._headers.add(name, self._convert_header_value(value))

    def clear_header(self, name: str) -> None:
        """Remove a response header (including one set by default)."""
        if name in self._headers:
            del self._headers[name]

    _convert_header_value = staticmethod(header_value)  # Tornado's name for it

    # -- output -------------------------------------------------------------------------

    def write(self, chunk: str | bytes | dict[str, Any]) -> None:
        """Add ``chunk`` to the output buffer.

        A ``dict`` is written as JSON with ``Content-Type: application/json``. (Lists are
        refused, as in Tornado: a top-level JSON array can be read cross-site by old
        browsers.)
        """
        if self._finished:
            raise RuntimeError("Cannot write() after finish()")
        if isinstance(chunk, bytes):
            self._write_buffer.append(chunk)
            return
        if isinstance(chunk, str):
            self._write_buffer.append(chunk.encode("utf-8"))
            return
        if isinstance(chunk, dict):
            self._headers.put("Content-Type", "application/json; charset=UTF-8")
            self._write_buffer.append(escape.json_encode(chunk).encode("utf-8"))
            return
        raise _bad_chunk(chunk)

    def _header_list(self) -> list[tuple[bytes, bytes]]:
        out = self._headers.raw_items()
        if self._new_cookie:
            for morsel in self._new_cookie.values():
                out.append((b"Set-Cookie", morsel_to_header(morsel).encode("latin-1")))
        return out

    def _send(self, finish: bool) -> None:
        buf = self._write_buffer
        if len(buf) == 1:
            body = buf[0]
        else:
            body = b"".join(buf)
        self._write_buffer = []
        conn = self.request.connection
        assert conn is not None
        if not self._headers_written:
            self._headers_written = True
            if self._transforms:
                body = self._transform_first_chunk(body, finish)
            try:
                conn.send_response(
                    self._status_code, self._reason, self._header_list(), body, finish
                )
            except HTTPOutputError:
                # Refused before anything was sent (a bad header): the error path can
                # still answer with a 500. A body contradicting its Content-Length
                # closes the connection instead: then there is no answering.
                if not conn.closed:
                    self._headers_written = False
                raise
        else:
            if self._transforms:
                body = self._transform_chunk(body, finish)
            conn.send_body(body, finish)

    # Output transforms (compression) hook in here; none by default.
    _transforms: list[Any] = []

    def _transform_first_chunk(self, body: bytes, finishing: bool) -> bytes:
        # Tornado's OutputTransform interface: status, headers and first chunk together.
        for t in self._transforms:
            self._status_code, self._headers, body = t.transform_first_chunk(
                self._status_code, self._headers, body, finishing
            )
        return body

    def _transform_chunk(self, body: bytes, finishing: bool) -> bytes:
        for t in self._transforms:
            body = t.transform_chunk(body, finishing)
        return body

    def flush(self, include_footers: bool = False) -> Awaitable[None]:
        """Send what is buffered now (the first flush sends the headers and switches to
        chunked encoding). Await the result to wait for the client to keep up; it raises
        :class:`StreamClosedError` once the client has gone."""
        conn = self.request.connection
        if conn is None:
            return _done_future()
        if conn.closed:
            self._write_buffer = []
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            fut.set_exception(StreamClosedError())
            fut.exception()  # mark retrieved: un-awaited flushes must not log noise
            return fut
        self._send(False)
        return conn.drain()

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> Awaitable[None]:
        """Finish the response, ending the HTTP request (the last ``chunk`` optional).

        Computes the ``Etag`` of GET/HEAD responses and answers ``304`` when the client's
        ``If-None-Match`` matches; sets ``Content-Length`` when nothing was flushed yet.
        """
        if self._finished:
            raise RuntimeError("finish() called twice")
        if chunk is not None:
            self.write(chunk)
        if not self._headers_written:
            status = self._status_code
            headers = self._headers
            # headers.joined, without the property's call when nothing is stale.
            joined = headers._joined if headers._stale is None else headers.joined
            if (
                status == 200
                and self.request.method in ("GET", "HEAD")
                and joined.get("Etag") is None
            ):
                cls = type(self)
                if (
                    cls.compute_etag is _COMPUTE_ETAG
                    and cls.set_etag_header is _SET_ETAG
                    and cls.check_etag_header is _CHECK_ETAG
                ):
                    # The three hooks as defined here, inlined (once per response).
                    etag = body_etag(self._write_buffer)
                    headers.put("Etag", etag)
                    request_headers = self.request.headers
                    inm = (
                        request_headers._joined
                        if request_headers._stale is None
                        else request_headers.joined
                    ).get("If-None-Match")
                    not_modified = inm is not None and etag_matches(inm, etag)
                else:
                    self.set_etag_header()
                    not_modified = self.check_etag_header()
                    headers = self._headers
                    joined = headers.joined
                if not_modified:
                    self._write_buffer = []
                    self.set_status(304)
                    status = 304
            if status != 200 and forbids_body(status):
                if self._write_buffer:
                    raise RuntimeError(f"Cannot send body with status code HTTP{status}")
                self._clear_representation_headers()
            elif joined.get("Content-Length") is None:
                buf = self._write_buffer
                length = len(buf[0]) if len(buf) == 1 else sum(map(len, buf))
                headers.put("Content-Length", str(length))
        conn = self.request.connection
        if conn is not None:
            self._send(True)
        self._finished = True
        self.request.mark_finished()
        self.application.log_request(self)
        self._run_on_finish()
        if conn is None:
            return _done_future()
        return conn.drain()

    def _run_on_finish(self) -> None:
        if self._on_finish_called:
            return
        self._on_finish_called = True
        timer = self._request_timer
        if timer is not None:
            timer.cancel()  # the route's request_timeout: the request is over
        observation = self._observation
        if observation is not None:
            observation.over(self)
        try:
            result = self.on_finish()
        except Exception:
            app_log.error("Exception in on_finish", exc_info=True)
            return
        finally:
            if self._uploads is not None:
                self._uploads.close()
        if result is not None:
            task = asyncio.ensure_future(result)
            task.add_done_callback(_log_on_finish_error)
            hold(self, task)  # a graceful shutdown waits for it

    def _clear_representation_headers(self) -> None:
        # 304 responses carry no body, so headers that describe one go (RFC 9110 §15.4.5).
        for h in ("Content-Encoding", "Content-Language", "Content-Type"):
            self.clear_header(h)

    def redirect(self, url: str, permanent: bool = False, status: int | None = None) -> None:
        """Redirect to ``url`` (302, or 301 when ``permanent``; any 3xx via ``status``)."""
        if self._headers_written:
            raise Exception("Cannot redirect after headers have been written")
        if status is None:
            status = 301 if permanent else 302
        else:
            assert isinstance(status, int) and 300 <= status <= 399
        self.set_status(status)
        # As UTF-8 bytes (sent as they are): a non-ASCII URL reaches the browser intact.
        self.set_header("Location", escape.utf8(url))
        self.finish()

    # -- answering by other means (WebSocket, a mounted ASGI app) ---------------------------

    def take_over_response(self) -> list[tuple[bytes, bytes]]:
        """Hand the answer to another protocol (a WebSocket accept): the HTTP response
        counts as written and finished, nothing more goes out through this handler.
        Returns the headers set so far, cookies included, for the answer that
        replaces it (a ``101 Switching Protocols``)."""
        self._headers_written = True
        self._finished = True
        return self._header_list()

    def give_back_response(self) -> None:
        """Undo :meth:`take_over_response` (the other protocol could not take the
        connection): the response is this handler's to write again."""
        self._headers_written = False
        self._finished = False

    def run_on_finish(self) -> None:
        """Run :meth:`on_finish` unless it has run (after :meth:`take_over_response`:
        once the other protocol is done)."""
        self._run_on_finish()

    def abandon_response(self) -> None:
        """Give up on an unfinished response: close the connection (no
        ``on_connection_close``) and run :meth:`on_finish`."""
        if not self._finished:
            self._abandon()

    def _set_allow_header(self) -> None:
        self.set_header("Allow", ", ".join(_allowed_methods(type(self))))

    def _request_summary(self) -> str:
        r = self.request
        return f"{r.method} {r.uri} ({r.remote_ip})"

    # -- URLs ------------------------------------------------------------------------------

    def reverse_url(self, name: str, *args: Any) -> str:
        """``self.application.reverse_url(name, *args)``."""
        return self.application.reverse_url(name, *args)

    def require_setting(self, name: str, feature: str = "this feature") -> None:
        """Raise if the application setting ``name`` is missing."""
        if not self.application.settings.get(name):
            raise Exception(
                f"You must define the '{name}' setting in your application to use {feature}"
            )

    # -- ETags -----------------------------------------------------------------------------------

    def compute_etag(self) -> str | None:
        """The ``Etag`` for the buffered body (override; ``None`` disables ETags)."""
        return body_etag(self._write_buffer)

    def set_etag_header(self) -> None:
        """Set ``Etag`` from :meth:`compute_etag` (converted as ``set_header`` does, so
        bytes are taken as latin-1, as in Tornado)."""
        etag = self.compute_etag()
        if etag is not None:
            self._headers["Etag"] = header_value(etag)

    def check_etag_header(self) -> bool:
        """True if the request's ``If-None-Match`` matches our ``Etag`` (weak comparison)."""
        inm = self.request.headers.joined.get("If-None-Match")
        if not inm:
            return False
        return etag_matches(inm, self._headers.joined.get("Etag") or "")

    # -- execution -------------------------------------------------------------------------------

    def _execute(
        self, args: Sequence[bytes | None], kwargs: dict[str, bytes | None]
    ) -> Awaitable[None] | None:
        """Run the request with the route's groups; returns an awaitable only if
        something had to wait."""
        try:
            method = self.request.method
            if method not in self.SUPPORTED_METHODS:
                raise HTTPError(405)
            if self._uploads is not None:  # parsed while it arrived
                try:
                    self._uploads.check()
                except HTTPInputError as e:
                    raise HTTPError(400, "Invalid body: %s", e) from e
            elif self.request.body and not self._stream_request_body:
                try:
                    self.request.parse_body()
                except HTTPInputError as e:
                    raise HTTPError(400, "Invalid body: %s", e) from e
            decode = self.decode_argument
            if args:  # (most routes have no groups: no comprehension to run)
                if len(args) == 1:
                    arg = args[0]
                    self.path_args = [decode(arg) if arg is not None else None]
                else:
                    self.path_args = [decode(a) if a is not None else None for a in args]
            if kwargs:
                self.path_kwargs = {
                    k: decode(v, name=k) if v is not None else None for k, v in kwargs.items()
                }
            if method not in ("GET", "HEAD", "OPTIONS") and self.application.check_unsafe_methods:
                self._check_unsafe_request()
            result = self.prepare()
            if result is not None or self._stream_request_body:
                return self._continue_async(result, after_prepare=True)
            if self._finished:
                return None
            result = getattr(self, _METHOD_NAMES.get(method) or method.lower())(
                *self.path_args, **self.path_kwargs
            )
            if result is not None:
                return self._continue_async(result, after_prepare=False)
            self._method_returned()
        except (Exception, asyncio.CancelledError) as e:
            # (A CancelledError raised without an await is never this task's own.)
            self._handle_request_exception(e)
        return None

    def _method_returned(self) -> None:
        # The HTTP method is done: finish for it (auto_finish) or wait for its finish().
        if not self._finished:
            if self._auto_finish:
                self.finish()
            else:
                self._park()

    async def _continue_async(self, pending: Any, after_prepare: bool) -> None:
        try:
            if after_prepare:
                try:
                    if pending is not None:
                        await _awaitable(pending, "prepare")
                finally:
                    prepared = self._prepared_future
                    if prepared is not None and not prepared.done():
                        prepared.set_result(None)
                if self._finished:
                    return
                if self._body_future is not None:
                    try:
                        await self._body_future
                    except StreamClosedError:
                        # The body never completed: the client went away, or the server
                        # refused it (413). Nobody is left to answer and nothing went
                        # wrong in the handler, so no error page and no error log (as
                        # in Tornado); on_finish still runs, for clean-up.
                        if not self._finished:
                            self._finished = True
                            self._run_on_finish()
                        return
                result = getattr(self, self.request.method.lower())(
                    *self.path_args, **self.path_kwargs
                )
                if result is not None:
                    await _awaitable(result, self.request.method.lower())
            else:
                await _awaitable(pending, self.request.method.lower())
            self._method_returned()
        except Exception as e:
            self._handle_request_exception(e)
        except asyncio.CancelledError as e:
            if self._connection_lost:
                # Typically on_connection_close cancelled what the method awaited:
                # nobody is left to answer or to report to.
                if not self._finished:
                    self._abandon()
                if _own_task_cancelled():
                    raise
                return
            if not _own_task_cancelled():
                # The method awaited something that was cancelled: an error like any
                # other (logged, answered with a 500), as in Tornado.
                self._handle_request_exception(e)
                return
            # This request's task itself was cancelled: not an error to log, but the
            # client still gets an answer; the cancellation goes on.
            if not self._finished:
                try:
                    self.send_error(500)
                except Exception:
                    app_log.error("Exception in exception handler", exc_info=True)
                    self._abandon()
            raise

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """With :func:`stream_request_body`, called for each body chunk (may be async)."""
        raise NotImplementedError()

    def __await__(self) -> Generator[Any, None, None]:  # pragma: no cover - guard
        raise TypeError("RequestHandler objects are not awaitable")


def _own_task_cancelled() -> bool:
    # Whether the running task was asked to cancel (Task.cancelling(), Python 3.11+);
    # on 3.10 every CancelledError is taken for one, the safe side (it propagates).
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is None or cancelling() > 0


_METHOD_NAMES = {m: m.lower() for m in RequestHandler.SUPPORTED_METHODS}
_COMPUTE_ETAG = RequestHandler.compute_etag
_SET_ETAG = RequestHandler.set_etag_header
_CHECK_ETAG = RequestHandler.check_etag_header


def _awaitable(result: object, name: str) -> Awaitable[Any]:
    """``result`` of a handler method, which must be awaitable when it is not None.

    As in Tornado, anything else (an async generator, a value returned by mistake) is an
    error answered with 500, not silently ignored.
    """
    if inspect.isawaitable(result):
        return result
    raise TypeError(f"{name}() returned {type(result).__name__!r}, not None or an awaitable")


def _bad_chunk(chunk: object) -> TypeError:
    message = "write() only accepts bytes, unicode, and dict objects"
    if isinstance(chunk, list):
        message += (
            ". Lists not accepted for security reasons; see "
            "https://www.tornadoweb.org/en/stable/web.html#tornado.web.RequestHandler.write"
        )
    return TypeError(message)


def _log_on_finish_error(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        assert exc is not None
        app_log.error("Exception in on_finish", exc_info=(type(exc), exc, exc.__traceback__))


_ALLOWED: dict[type, tuple[str, ...]] = {}


def _allowed_methods(cls: type[RequestHandler]) -> tuple[str, ...]:
    """The methods ``cls`` implements (for the ``Allow`` header of a 405)."""
    try:
        return _ALLOWED[cls]
    except KeyError:
        pass
    methods = tuple(
        m
        for m in cls.SUPPORTED_METHODS
        if getattr(cls, m.lower(), None) is not RequestHandler._unimplemented_method
    )
    # HEAD is not implied by GET: Tornado answers 405 for HEAD without head().
    _ALLOWED[cls] = methods
    return methods


def stream_request_body(cls: _H) -> _H:
    """Class decorator: deliver the body to ``data_received`` chunk by chunk instead of
    buffering it (``prepare`` runs first, once the headers are in)."""
    if not issubclass(cls, RequestHandler):
        raise TypeError(f"expected subclass of RequestHandler, got {cls!r}")
    cls._stream_request_body = True
    return cls
