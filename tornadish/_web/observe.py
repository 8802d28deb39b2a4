"""What observes an application's requests — the JSON access log, the request id echo,
metrics, traces — resolved once from its settings, and hooked into the request path.

Rules of this module:

1. Off costs nothing. :meth:`Observer.from_settings` returns None unless one of
   ``log_format="json"``, ``request_id=True``, ``metrics``, ``opentelemetry`` is set;
   the application then has no observer, and the request path tests two empty slots
   (the dispatcher's, the handler's) and does nothing more.
2. On, the application wires the observer in at start-up, in three places it already
   has: as the last output transform (made for each request: the request's
   :class:`Observation`, which counts the body bytes sent, after compression, and sets
   ``X-Request-ID``), as its log function (``Application.log_request``: the response
   is complete), and around the handler's start (:meth:`Observer.execute`: the route is
   known, the span starts). The handler tells its observation when the request is over
   (``on_finish`` is about to run), answered or not.
3. The events, per request: *started* (its handler starts), *answered* (its response is
   complete, or, for a WebSocket, the 101 is sent), *over* (finished, abandoned, or the
   WebSocket closed). Requests in flight count from started to answered or over,
   whichever comes first; a WebSocket counts as open from its 101 to over. A request
   that ends without an answer (the client left) has no access line — as in Tornado —
   and is not counted, but leaves the in-flight gauge and ends its span as an error.
4. The ``log_function`` setting still wins: it is called for the access line (the JSON
   line is not written then), and metrics and spans are kept all the same.
5. ``X-Request-ID`` is echoed when ``request_id=True``, and by default when
   ``log_format="json"`` (``request_id=False`` keeps it off): a client or proxy that
   sent one sees it back; one that did not learns the id to quote. The id itself
   (``request.id``) exists either way, made on first use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from tornadish._http.headers import HTTPHeaders
from tornadish._http.request import HTTPServerRequest
from tornadish._http.request_id import REQUEST_ID_HEADER
from tornadish._web.access_log import log_json, log_text
from tornadish._web.handler_run import HandlerRun
from tornadish._web.metrics import ServerMetrics
from tornadish._web.routing import Rule
from tornadish._web.tracing import ServerTracing
from tornadish.log import app_log

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from tornadish._web.handler import RequestHandler

__all__ = ["Observation", "Observer"]

_LOG_FORMATS = ("text", "json")
# Rules remembered per observer: an application's own are a few dozen.
_MAX_ROUTES = 1024


class Observer:
    """An application's observability, resolved from its settings (see the module's
    rules); None from :meth:`from_settings` when all of it is off."""

    __slots__ = ("echo_id", "json", "log_function", "metrics", "routes", "tracing")

    def __init__(
        self,
        *,
        json: bool = False,
        echo_id: bool = False,
        metrics: ServerMetrics | None = None,
        tracing: ServerTracing | None = None,
        log_function: Callable[[RequestHandler], None] | None = None,
    ) -> None:
        self.json = json
        self.echo_id = echo_id
        self.metrics = metrics
        self.tracing = tracing
        self.log_function = log_function
        # Per rule: (its route name, its pattern), worked out once (see route_of).
        self.routes: dict[Rule, tuple[str | None, str | None]] = {}

    @classmethod
    def from_settings(
        cls,
        settings: dict[str, Any],
        log_function: Callable[[RequestHandler], None] | None,
    ) -> Observer | None:
        """The observer the settings ask for (checked now: a bad value, or a missing
        library, fails at start-up), or None. ``log_function``: the setting's."""
        log_format = settings.get("log_format", "text")
        if log_format not in _LOG_FORMATS:
            raise ValueError(f"log_format: expected 'text' or 'json', got {log_format!r}")
        as_json = log_format == "json"
        echo_id = bool(settings.get("request_id", as_json))
        metrics = settings.get("metrics")
        tracing = settings.get("opentelemetry")
        metrics_on = metrics is not None and metrics is not False
        tracing_on = tracing is not None and tracing is not False
        if not (as_json or echo_id or metrics_on or tracing_on):
            return None
        return cls(
            json=as_json,
            echo_id=echo_id,
            metrics=ServerMetrics(metrics) if metrics_on else None,
            tracing=ServerTracing(tracing) if tracing_on else None,
            log_function=log_function,
        )

    @property
    def connection_watch(self) -> Callable[[int], None] | None:
        """What the application's servers tell of each connection opened (+1) and
        closed (-1): the metrics' open-connections gauge, when metrics are on."""
        metrics = self.metrics
        return None if metrics is None else metrics.connection

    # -- the hooks (rule 2) -------------------------------------------------------------

    def __call__(self, request: HTTPServerRequest) -> Observation:
        """The output transform for ``request``: its observation."""
        return Observation(self, request)

    def execute(
        self,
        run: HandlerRun,
        rule: Rule | None,
        path_args: Sequence[bytes | None],
        path_kwargs: dict[str, bytes | None],
    ) -> Awaitable[None] | None:
        """Start ``run``'s handler (``HandlerRun.execute``) for the request ``rule``
        matched (None: no route did), observed."""
        handler = run.handler
        observation = _observation_in(handler._transforms)
        if observation is None:
            # The transforms were replaced under us (only a test would): unobserved.
            return run.execute(path_args, path_kwargs)
        handler._observation = observation
        observation.route, pattern = self.route_of(rule)
        tracing = self.tracing
        run_in = None
        try:
            metrics = self.metrics
            if metrics is not None:
                metrics.request_started()
                observation.in_flight = True
            if tracing is not None:
                observation.span, run_in = tracing.start(handler.request, pattern)
        except Exception:
            # A metrics or tracing library that fails must not fail the request.
            app_log.error("Could not observe %r", handler.request, exc_info=True)
        if tracing is None or run_in is None:
            return run.execute(path_args, path_kwargs)
        return tracing.run(run_in, run.execute, path_args, path_kwargs)

    def route_of(self, rule: Rule | None) -> tuple[str | None, str | None]:
        """``rule``'s route name (its name, else its pattern) and its pattern (None
        when it has none, or no rule matched)."""
        if rule is None:
            return None, None
        found = self.routes.get(rule)
        if found is None:
            pattern = _pattern(rule)
            found = (rule.name or pattern, pattern)
            if len(self.routes) < _MAX_ROUTES:  # (rules a router makes per request)
                self.routes[rule] = found
        return found

    def log_request(self, handler: RequestHandler) -> None:
        """The application's log function: the response is complete."""
        observation = handler._observation
        if observation is not None:
            observation.answered(handler)
        if self.log_function is not None:
            self.log_function(handler)
        elif self.json:
            route = None if observation is None else observation.route
            log_json(handler, route, 0 if observation is None else observation.bytes_sent)
        else:
            log_text(handler)


class Observation:
    """One request, observed: the output transform that sees its response go out, and
    what its events update (see the module's rules)."""

    __slots__ = (
        "answered_with",
        "bytes_sent",
        "in_flight",
        "observer",
        "request",
        "route",
        "span",
        "websocket",
    )

    def __init__(self, observer: Observer, request: HTTPServerRequest) -> None:
        self.observer = observer
        self.request = request
        self.route: str | None = None
        self.bytes_sent = 0
        self.in_flight = False
        self.websocket = False
        self.answered_with: int | None = None
        self.span: Span | None = None

    # -- Tornado's OutputTransform interface -----------------------------------------

    def transform_first_chunk(
        self, status_code: int, headers: HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, HTTPHeaders, bytes]:
        if self.observer.echo_id:
            headers[REQUEST_ID_HEADER] = self.request.id
        if self.request.method != "HEAD":  # (a body written for HEAD is not sent)
            self.bytes_sent += len(chunk)
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        if self.request.method != "HEAD":
            self.bytes_sent += len(chunk)
        return chunk

    # -- the request's events ----------------------------------------------------------

    def answered(self, handler: RequestHandler) -> None:
        """The response is complete (for a WebSocket: the 101 is sent)."""
        if self.answered_with is not None:
            return
        status = self.answered_with = handler.get_status()
        try:
            self._answered(handler, status)
        except Exception:
            # A metrics or tracing library that fails must not fail the request.
            app_log.error("Could not observe %r", handler.request, exc_info=True)

    def _answered(self, handler: RequestHandler, status: int) -> None:
        metrics = self.observer.metrics
        if metrics is not None:
            request = handler.request
            metrics.request_answered(
                self.route,
                request.method,
                status,
                request.request_time(),
                _bytes_received(request),
                self.bytes_sent,
            )
            if self.in_flight:
                self.in_flight = False
                metrics.request_ended()
            if status == 101:
                self.websocket = True
                metrics.websocket(1)
        self._end_span(status)

    def over(self, handler: RequestHandler) -> None:
        """The request is over (``on_finish`` runs next), answered or not."""
        try:
            metrics = self.observer.metrics
            if metrics is not None:
                if self.in_flight:
                    self.in_flight = False
                    metrics.request_ended()
                if self.websocket:
                    self.websocket = False
                    metrics.websocket(-1)
            self._end_span(None)
        except Exception:
            app_log.error("Could not observe %r", handler.request, exc_info=True)

    def _end_span(self, status: int | None) -> None:
        span = self.span
        tracing = self.observer.tracing
        if span is not None and tracing is not None:
            self.span = None
            tracing.end(span, status)


def _observation_in(transforms: list[Any]) -> Observation | None:
    # The application's observer is its last transform, unless one was added after it.
    for transform in reversed(transforms):
        if isinstance(transform, Observation):
            return transform
    return None


def _pattern(rule: Rule) -> str | None:
    """The path pattern of ``rule`` (without the ``$`` routing adds), if it has one."""
    regex = getattr(rule.matcher, "regex", None)
    if regex is None:
        return None
    pattern: str = regex.pattern
    return pattern[:-1] if pattern.endswith("$") else pattern


def _bytes_received(request: HTTPServerRequest) -> int:
    # The body's declared length (also for a body streamed to the handler or parsed as
    # it arrived), else what was buffered (a chunked body).
    length = request.headers.joined.get("Content-Length")
    if length is not None and length.isdigit():
        return int(length)
    return len(request.body)
