"""``Application``: routes plus settings, and the per-request dispatcher.

The dispatcher is the :class:`~.httputil.HTTPMessageDelegate` the connection feeds: it
builds the request at head time, routes it, buffers (or streams) the body, then runs the
handler. Routing tables and settings-derived flags are computed once, at construction.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from tornadish._http.contract import HTTPConnection, HTTPMessageDelegate
from tornadish._http.headers import HTTPHeaders
from tornadish._http.request import HTTPServerRequest
from tornadish._web.body_buffer import DEFAULT_BODY_MEMORY_BUDGET, BodyBudget, BufferedBody
from tornadish._web.compress import ContentEncoding
from tornadish._web.errors import HTTPError
from tornadish._web.handler import RequestHandler
from tornadish._web.handler_run import HandlerRun
from tornadish._web.observe import Observer
from tornadish._web.route_policy import RequestWatch, RoutePolicy, answer_timeout, handler_policy
from tornadish._web.routing import (
    AnyMatches,
    HostMatches,
    PathMatches,
    ReversibleRouter,
    ReversibleRuleRouter,
    Rule,
    URLSpec,
)
from tornadish._web.security_headers import security_headers_transform
from tornadish._web.static import StaticFileHandler
from tornadish._web.uimodule import setup_application as setup_ui
from tornadish._web.uploads import DEFAULT_SPOOL_THRESHOLD, MultipartUpload
from tornadish.log import access_log, app_log

if TYPE_CHECKING:
    from tornadish._asgi.adapter import ASGIAdapter
    from tornadish._server.httpserver import HTTPServer

__all__ = ["Application"]


class _ApplicationRouter(ReversibleRuleRouter):
    """Rule router whose tuple rules become :class:`URLSpec` and whose handler targets
    are served by the application."""

    def __init__(self, application: Application, rules: Sequence[Any] | None = None) -> None:
        self.application = application
        super().__init__(rules)

    def add_rules(self, rules: Sequence[Any]) -> None:
        specs = []
        for rule in rules:
            if isinstance(rule, (tuple, list)) and isinstance(rule[0], (str, re.Pattern)):
                rule = URLSpec(*rule)
            specs.append(rule)
        super().add_rules(specs)

    def process_rule(self, rule: Rule) -> Rule:
        if isinstance(rule.target, (list, tuple)):
            rule.target = _ApplicationRouter(self.application, rule.target)
        return super().process_rule(rule)

    def _nested_router(self, rules: Sequence[Any]) -> _ApplicationRouter:
        return _ApplicationRouter(self.application, rules)


class Application(ReversibleRouter):
    """A collection of request handlers that make up a web application.

    >>> app = Application([
    ...     (r"/", MainHandler),
    ...     (r"/user/(\\d+)", UserHandler, {"db": db}, "user"),
    ... ], debug=True)                                        # doctest: +SKIP
    >>> app.listen(8888)                                      # doctest: +SKIP

    Settings are Tornado's; those used by this module: ``debug`` (implies
    ``autoreload``, ``serve_traceback``, no template/static caching),
    ``default_handler_class``/``default_handler_args`` (for unmatched paths; 404
    otherwise), ``log_function``, ``xsrf_cookies``, ``serve_traceback``;
    ``static_path`` (serve that directory under ``static_url_prefix``, default
    ``/static/``, and ``/favicon.ico``, ``/robots.txt`` from it) with
    ``static_handler_class``/``static_handler_args``/``static_hash_cache``;
    ``compress_response`` (br, zstd or gzip responses, see ``ContentEncoding``);
    ``security_headers`` (HSTS, ``nosniff``, a referrer policy, a content security
    policy..., see ``tornadish._web.security_headers``);
    ``body_memory_budget`` (bytes of whole request bodies held in memory at once, all
    requests together; 256 MiB, see ``tornadish._web.body_buffer``);
    ``upload_spool_threshold``/``upload_tmp_dir`` (multipart uploads, see
    ``docs/static-and-uploads.md``); ``log_format="json"``, ``request_id``,
    ``metrics``, ``opentelemetry`` (a JSON access log, ``X-Request-ID``, Prometheus
    metrics, OpenTelemetry spans: see ``tornadish._web.observe`` and
    ``docs/observability.md``).
    """

    def __init__(
        self,
        handlers: Sequence[Any] | None = None,
        default_host: str | None = None,
        transforms: list[Any] | None = None,
        **settings: Any,
    ) -> None:
        if transforms is None:
            transforms = []
            if settings.get("compress_response") or settings.get("gzip"):
                transforms.append(ContentEncoding)  # br, zstd or gzip, as accepted
        self.transforms = list(transforms)
        if settings.get("security_headers"):
            # Worked out (and checked) once, here: see tornadish._web.security_headers.
            self.transforms.append(security_headers_transform(settings["security_headers"]))
        self.default_host = default_host
        self.settings = settings
        self.ui_modules: dict[str, Any] = {}
        self.ui_methods: dict[str, Any] = {}
        setup_ui(self)  # ui_modules/ui_methods settings, template loaders
        if settings.get("debug"):
            settings.setdefault("autoreload", True)
            settings.setdefault("compiled_template_cache", False)
            settings.setdefault("static_hash_cache", False)
            settings.setdefault("serve_traceback", True)
        if settings.get("static_path"):
            handlers = _static_routes(settings) + list(handlers or [])
        self._tasks: set[asyncio.Future[Any]] = set()
        # Whole request bodies held in memory, all requests together (body_buffer.py).
        self.body_budget = BodyBudget(
            settings.get("body_memory_budget", DEFAULT_BODY_MEMORY_BUDGET)
        )
        self.wildcard_router = _ApplicationRouter(self, handlers)
        self.default_router = _ApplicationRouter(self, [Rule(AnyMatches(), self.wildcard_router)])
        self._settings_changed()

    #: True when the ``xsrf_cookies`` or ``cross_origin_protection`` setting has
    #: handlers check requests of unsafe methods (POST, PUT, ...).
    check_unsafe_methods: bool
    _observer: Observer | None = None

    def _settings_changed(self) -> None:
        # Flags read on every request, resolved once.
        self.check_unsafe_methods = bool(
            self.settings.get("xsrf_cookies") or self.settings.get("cross_origin_protection")
        )
        self._log_function = self.settings.get("log_function")
        # The JSON access log, request ids, metrics, traces (tornadish._web.observe):
        # None while all are off, and then the request path has nothing more to do.
        if self._observer is not None and self._observer in self.transforms:
            self.transforms.remove(self._observer)
        self._observer = Observer.from_settings(self.settings, self._log_function)
        self.connection_watch = None
        if self._observer is not None:
            self.transforms.append(self._observer)
            self._log_function = self._observer.log_request
            self.connection_watch = self._observer.connection_watch
        self._spool_threshold = self.settings.get("upload_spool_threshold", DEFAULT_SPOOL_THRESHOLD)

    def listen(
        self,
        port: int,
        address: str | None = None,
        *,
        family: Any = None,
        backlog: int = 1024,
        flags: int | None = None,
        reuse_port: bool = False,
        **kwargs: Any,
    ) -> HTTPServer:
        """Start an :class:`~.httpserver.HTTPServer` for this application on ``port``.

        Extra keyword arguments go to the ``HTTPServer`` constructor (``xheaders``,
        ``max_body_size``, ``http`` for the HTTP/1.1 engine, ...). Returns the server
        (keep it to ``stop()`` it).
        """
        import socket

        from tornadish._server.httpserver import HTTPServer

        server = HTTPServer(self, **kwargs)
        server.listen(
            port,
            address=address,
            family=family if family is not None else socket.AF_UNSPEC,
            backlog=backlog,
            flags=flags,
            reuse_port=reuse_port,
        )
        if self.settings.get("autoreload"):
            self._start_autoreload()
        return server

    def _start_autoreload(self) -> None:
        # The development loop: restart on a change to a module. Not on a template's:
        # with autoreload on, templates are recompiled when they change (templating's
        # auto_reload), and a restart would drop every WebSocket for nothing.
        from tornadish import autoreload

        autoreload.start()

    @functools.cached_property
    def asgi(self) -> ASGIAdapter:
        """This application as an ASGI 3 app (made once), for uvicorn and friends.

        The application itself answers ASGI calls too (``uvicorn mymodule:app``), but
        servers that tell ASGI from WSGI by an ``async def __call__`` (hypercorn) need
        this one: export ``asgi_app = app.asgi`` and serve ``mymodule:asgi_app``."""
        from tornadish._asgi.adapter import ASGIAdapter

        return ASGIAdapter(self)

    def add_handlers(self, host_pattern: str, host_handlers: Sequence[Any]) -> None:
        """Add handlers for hosts matching ``host_pattern``; host rules are tried in the
        order added, before the handlers given to the constructor."""
        host_matcher = HostMatches(host_pattern)
        rule = Rule(host_matcher, _ApplicationRouter(self, host_handlers))
        self.default_router.rules.insert(-1, rule)
        if self.default_host is not None:
            from tornadish._web.routing import DefaultHostMatches

            self.wildcard_router.add_rules(
                [Rule(DefaultHostMatches(self, host_matcher.host_pattern), host_handlers)]
            )

    def add_transform(self, transform_class: Any) -> None:
        """Add an output transform (applied to every response)."""
        self.transforms.append(transform_class)

    # -- HTTPServerConnectionDelegate ---------------------------------------------

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        return _RequestDispatcher(self, request_conn)

    def on_close(self, server_conn: object) -> None:
        pass

    def __call__(
        self, request: HTTPServerRequest | dict[str, Any], receive: Any = None, send: Any = None
    ) -> Any:
        """Serve an already-built request (legacy Tornado entry point), or, called with
        an ASGI scope, be an ASGI application: ``app(scope, receive, send)`` (ASGI 3)
        or ``app(scope)(receive, send)`` (ASGI 2, what ``uvicorn module:app`` uses for
        an object whose ``__call__`` is not ``async``). See :attr:`asgi`."""
        if isinstance(request, dict):
            if receive is not None:
                return self.asgi(request, receive, send)
            return functools.partial(self.asgi, request)
        dispatcher = _RequestDispatcher(self, request.connection)
        dispatcher.request = request
        dispatcher._route()
        return dispatcher._run()

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> HTTPMessageDelegate:
        """The delegate that serves ``request`` (Tornado's router interface)."""
        dispatcher = _RequestDispatcher(self, request.connection)
        dispatcher.request = request
        dispatcher._route()
        return dispatcher

    def get_handler_delegate(
        self,
        request: HTTPServerRequest,
        target_class: type[RequestHandler],
        target_kwargs: dict[str, Any] | None = None,
        path_args: list[bytes] | None = None,
        path_kwargs: dict[str, bytes] | None = None,
    ) -> HTTPMessageDelegate:
        """A delegate that runs ``target_class`` for ``request`` (Tornado API)."""
        dispatcher = _RequestDispatcher(self, request.connection)
        dispatcher.request = request
        dispatcher._serve_with(
            target_class,
            target_kwargs or {},
            list(path_args or []),
            dict(path_kwargs or {}),
            handler_policy(target_class),
        )
        return dispatcher

    @property
    def static_handler_class(self) -> type[StaticFileHandler]:
        """The class that serves static files and makes their URLs: the
        ``static_handler_class`` setting, :class:`StaticFileHandler` by default."""
        cls: type[StaticFileHandler] = self.settings.get("static_handler_class", StaticFileHandler)
        return cls

    def reverse_url(self, name: str, *args: Any) -> str:
        """The path of the route called ``name``, with ``args`` substituted.

        >>> app.reverse_url("user", 42)                           # doctest: +SKIP
        '/user/42'
        """
        reversed_url = self.default_router.reverse_url(name, *args)
        if reversed_url is not None:
            return reversed_url
        raise KeyError(f"{name} not found in named urls")

    def log_request(self, handler: RequestHandler) -> None:
        """Write the access-log line for a finished request (``log_function`` overrides).

        Status < 400 logs at INFO, < 500 at WARNING, otherwise ERROR, as Tornado does.
        """
        log_function = self._log_function
        if log_function is not None:
            log_function(handler)
            return
        status = handler.get_status()
        if status < 400:
            level = logging.INFO
        elif status < 500:
            level = logging.WARNING
        else:
            level = logging.ERROR
        if access_log.isEnabledFor(level):
            request_time = 1000.0 * handler.request.request_time()
            access_log.log(level, "%d %s %.2fms", status, handler._request_summary(), request_time)

    def _buffered_body(self) -> BufferedBody:
        """A request body to buffer, within the application's memory budget."""
        return BufferedBody(
            self.body_budget, self._spool_threshold, self.settings.get("upload_tmp_dir")
        )

    def _track(self, task: asyncio.Future[Any]) -> None:
        # The loop only holds weak references to tasks; keep request tasks alive.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _static_routes(settings: dict[str, Any]) -> list[Any]:
    """The routes the ``static_path`` setting implies (before the application's own)."""
    handler_class = settings.get("static_handler_class", StaticFileHandler)
    handler_args = dict(settings.get("static_handler_args", {}))
    handler_args["path"] = settings["static_path"]
    prefix = settings.get("static_url_prefix", "/static/")
    return [
        (pattern, handler_class, handler_args)
        for pattern in (r"/(robots\.txt)", r"/(favicon\.ico)", re.escape(prefix) + r"(.*)")
    ]


# A route without groups: no arguments (shared, never mutated: they are unpacked).
_NO_ARGS: list[bytes | None] = []
_NO_KWARGS: dict[str, bytes | None] = {}


class _RequestDispatcher(HTTPMessageDelegate):
    """Serves one request: route at head time, collect the body, run the handler."""

    # Slots, every one set in __init__: CPython 3.11 reads a slot in a few
    # instructions, while a class-level default read through the instance takes the
    # generic attribute lookup (and this object's fields are read on every request).
    __slots__ = (
        "application",
        "body",
        "connection",
        "delegate",
        "handler_class",
        "handler_kwargs",
        "path_args",
        "path_kwargs",
        "policy",
        "request",
        "rule",
        "run",
        "stream",
        "uploads",
        "watch",
    )

    def __init__(self, application: Application, connection: HTTPConnection | None) -> None:
        self.application = application
        self.connection = connection
        self.request: HTTPServerRequest | None = None
        self.handler_class: type[RequestHandler] | None = None
        self.handler_kwargs: dict[str, Any] = _NO_KWARGS
        self.path_args = _NO_ARGS
        self.path_kwargs = _NO_KWARGS
        self.run: HandlerRun | None = None  # once the handler exists
        self.delegate: HTTPMessageDelegate | None = None
        self.body: BufferedBody | None = None  # a whole body, as it arrives
        self.stream = False
        self.uploads: MultipartUpload | None = None
        # The route's policy (route_policy.py), and what follows this request for it.
        self.policy: RoutePolicy | None = None
        self.watch: RequestWatch | None = None
        self.rule: Rule | None = None  # the rule that chose the handler (an observer's)

    def headers_received(self, start_line: Any, headers: HTTPHeaders) -> Awaitable[None] | None:
        # A request set already was routed by a router of the user's (through
        # find_handler or get_handler_delegate), which built it.
        if self.request is None:
            self.request = HTTPServerRequest.from_wire(
                start_line.method, start_line.path, start_line.version, headers, self.connection
            )
            try:
                self._route()
            except Exception:
                # A broken matcher or router target: a 500 for this request, not a
                # dropped connection.
                app_log.error("Uncaught exception routing %r", self.request, exc_info=True)
                self.delegate = None
                self._serve_with(ErrorHandler, {"status_code": 500}, [], {})
        if self.delegate is not None:
            return self.delegate.headers_received(start_line, headers)
        if self.policy is not None and self.connection is not None:
            # Limits before any body is read, the deadline from the head.
            self.watch = RequestWatch(self.policy, self.connection, self._timed_out)
        if self.stream:
            return self._start_streaming()
        # headers.joined, without the property's call when nothing is stale.
        joined = headers._joined if headers._stale is None else headers.joined
        ctype = joined.get("Content-Type")
        if ctype is not None and ctype.startswith("multipart/form-data"):
            self._start_multipart(ctype, headers)
        return None

    def _start_multipart(self, ctype: str, headers: HTTPHeaders) -> None:
        # Parsed as it arrives, files spooled to disk: see _uploads.
        request = self.request
        assert request is not None
        settings = self.application.settings
        self.uploads = MultipartUpload(
            ctype,
            headers,
            request.body_arguments,
            request.files,
            settings.get("upload_spool_threshold", DEFAULT_SPOOL_THRESHOLD),
            settings.get("upload_tmp_dir"),
        )

    def _route(self) -> None:
        app = self.application
        request = self.request
        assert request is not None
        if self._serve_first(app.default_router, request):
            return
        handler_class = app.settings.get("default_handler_class")
        if handler_class is not None:
            self._serve_with(
                handler_class,
                app.settings.get("default_handler_args", {}),
                [],
                {},
                handler_policy(handler_class),
            )
        else:
            self._serve_with(ErrorHandler, {"status_code": 404}, [], {})

    def _serve_first(self, router: _ApplicationRouter, request: HTTPServerRequest) -> bool:
        """Tornado's ``RuleRouter`` walk: the first matching rule whose target serves
        the request; a handler class always does, a router (nested or the user's) may
        find nothing, and then the next rule is tried. False: no rule served."""
        path = request.path
        for rule in router.rules:
            matcher = rule.matcher
            kind = type(matcher)
            target = rule.target
            # The common cases first, matched here directly: the application's own
            # router behind AnyMatches, and a path to a handler class.
            if kind is AnyMatches and type(target) is _ApplicationRouter:
                if self._serve_first(target, request):
                    return True
                continue
            if kind is PathMatches:
                m = matcher.regex.match(path)  # type: ignore[attr-defined]
                if m is None:
                    continue
                if isinstance(target, type) and issubclass(target, RequestHandler):
                    if matcher.regex.groups:  # type: ignore[attr-defined]
                        args, kwargs = matcher.arguments(m)  # type: ignore[attr-defined]
                    else:
                        args, kwargs = _NO_ARGS, _NO_KWARGS
                    self.rule = rule  # (what an observer names the route by)
                    self._serve_with(target, rule.target_kwargs, args, kwargs, rule.policy)
                    return True
                params = matcher.extract(m)  # type: ignore[attr-defined]
            else:
                params = matcher.match(request)
                if params is None:
                    continue
            if isinstance(target, _ApplicationRouter):
                if self._serve_first(target, request):
                    return True
                continue
            if isinstance(target, type) and issubclass(target, RequestHandler):
                self.rule = rule
                self._serve_with(
                    target,
                    rule.target_kwargs,
                    params.get("path_args", _NO_ARGS),
                    params.get("path_kwargs", _NO_KWARGS),
                    rule.policy,
                )
                return True
            if rule.target_kwargs:
                params["target_kwargs"] = rule.target_kwargs
            delegate = router.get_target_delegate(target, request, **params)
            if delegate is not None:
                self.delegate = delegate
                return True
        return False

    def _serve_with(
        self,
        handler_class: type[RequestHandler],
        handler_kwargs: dict[str, Any],
        path_args: list[bytes | None],
        path_kwargs: dict[str, bytes | None],
        policy: RoutePolicy | None = None,
    ) -> None:
        # The one place a handler class is chosen: whether it streams goes with it, and
        # the route's policy (resolved when the rule was made).
        self.handler_class = handler_class
        self.handler_kwargs = handler_kwargs
        self.path_args = path_args
        self.path_kwargs = path_kwargs
        self.stream = handler_class._stream_request_body  # @stream_request_body
        self.policy = policy

    def _start_streaming(self) -> Awaitable[None] | None:
        request = self.request
        assert request is not None and self.handler_class is not None
        handler = self.handler_class(self.application, request, **self.handler_kwargs)
        run = self.run = HandlerRun(handler, self.application.transforms, streaming=True)
        watch = self.watch
        if watch is not None and watch.timer is not None:
            run.deadline(watch.timer)
        observer = self.application._observer
        if observer is None:
            pending = run.execute(self.path_args, self.path_kwargs)
        else:  # tornadish._web.observe
            rule = self.rule
            pending = observer.execute(run, rule, self.path_args, self.path_kwargs)
        if pending is not None:
            task = asyncio.ensure_future(pending)
            self.application._track(task)
            if watch is not None:
                watch.task = task
        # Read no body before prepare() has run: it may change the body limits or refuse
        # the request.
        return run.until_prepared()

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self.delegate is not None:
            return self.delegate.data_received(chunk)
        if self.stream:
            assert self.run is not None
            return self.run.body_chunk(chunk)
        if self.uploads is not None:
            self.uploads.feed(chunk)
            return None
        body = self.body
        if body is None:
            body = self.body = self.application._buffered_body()
        body.add(chunk)
        return None

    def finish(self) -> None:
        if self.delegate is not None:
            self.delegate.finish()
            return
        request = self.request
        assert request is not None
        if self.stream:
            assert self.run is not None
            self.run.body_complete()
            return
        if self.uploads is not None:
            request.body = self.uploads.end()
        body = self.body
        if body is not None:
            # Form parsing happens in the handler's _execute, where a bad body becomes a
            # 400 through the handler's own error path.
            data = body.memory()
            if data is None:
                # On disk: read back once the memory budget has room (body_buffer.py).
                self._track(asyncio.ensure_future(self._load_then_run(body)))
                return
            request.body = data
        self._start()

    async def _load_then_run(self, body: BufferedBody) -> None:
        assert self.request is not None
        try:
            self.request.body = await body.load()
        except BaseException:
            body.release()
            raise
        if self.connection is not None and self.connection.closed:
            body.release()  # the client left while its body waited: nobody to answer
            return
        self._start()

    def _start(self) -> None:
        """Make the handler and run it; the body's memory is returned when it is done."""
        pending = self._run()
        body = self.body
        if pending is None:
            if body is not None:
                body.release()
            return
        task = asyncio.ensure_future(pending)
        self._track(task)
        if self.watch is not None:
            self.watch.task = task
        if body is not None:
            task.add_done_callback(lambda _: body.release())

    def _track(self, task: asyncio.Future[Any]) -> None:
        self.application._track(task)

    def _run(self) -> Awaitable[None] | None:
        assert self.request is not None and self.handler_class is not None
        try:
            handler = self.handler_class(self.application, self.request, **self.handler_kwargs)
        except Exception:
            app_log.error("Uncaught exception creating handler", exc_info=True)
            if self.uploads is not None:
                self.uploads.close()
            if self.watch is not None:
                self.watch.cancel_timer()
            _fallback_500(self.connection)
            return None
        run = self.run = HandlerRun(handler, self.application.transforms, self.uploads)
        watch = self.watch
        if watch is not None and watch.timer is not None:
            run.deadline(watch.timer)
        observer = self.application._observer
        if observer is not None:  # tornadish._web.observe
            rule = self.rule
            return observer.execute(run, rule, self.path_args, self.path_kwargs)
        return run.execute(self.path_args, self.path_kwargs)

    def on_connection_close(self) -> None:
        if self.uploads is not None and self.run is None:
            self.uploads.close()  # abandoned mid-body: no handler will close them
        if self.body is not None and self.run is None:
            self.body.release()  # abandoned before its handler ran
        if self.delegate is not None:
            self.delegate.on_connection_close()
        elif self.stream and self.run is not None:
            self.run.connection_lost()
        watch = self.watch
        if watch is not None:
            run = self.run
            if run is None:
                watch.cancel_timer()  # left mid-body: no handler, nobody to answer
            elif watch.policy.cancel_on_disconnect and watch.task is not None:
                run.cancel(watch.task)

    def _timed_out(self) -> None:
        # The route's request_timeout ran out (route_policy.py).
        watch = self.watch
        request = self.request
        assert watch is not None and watch.policy.request_timeout is not None
        assert request is not None
        if self.run is not None:
            self.run.time_out(watch.task, watch.policy.request_timeout)
            return
        # The body is still arriving: no handler to stop, the client is answered now.
        if self.uploads is not None:
            self.uploads.close()
        answer_timeout(self.connection, request, watch.policy.request_timeout)


def _fallback_500(connection: HTTPConnection | None) -> None:
    body = b"500: Internal Server Error"
    try:
        assert connection is not None, "no connection to answer on"
        connection.send_response(
            500, "Internal Server Error", [(b"Content-Length", str(len(body)).encode())], body, True
        )
    except Exception:
        app_log.error("Could not send a 500 response", exc_info=True)


class ErrorHandler(RequestHandler):
    """Answers every request with ``status_code`` (the default for unmatched paths)."""

    def initialize(self, status_code: int) -> None:
        self.set_status(status_code)

    def prepare(self) -> None:
        raise HTTPError(self._status_code)

    def check_xsrf_cookie(self) -> None:
        # POSTs to unknown URLs get a 404, not an XSRF 403.
        pass

    def check_trusted_origin(self, origin: str) -> bool:
        # Nothing here changes state, so any origin may ask: a cross-origin POST to an
        # unknown URL gets its 404 (or this handler's status), not a 403.
        return True
