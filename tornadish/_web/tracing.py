"""Server spans: with the ``opentelemetry`` setting, each request handled gets a span of
kind SERVER (on ``opentelemetry-api``: ``pip install 'tornadish[otel]'``).

Rules of this module:

1. Switched on by the setting, never by what happens to be installed or configured:
   ``opentelemetry=True`` uses the global ``TracerProvider`` (configure it before or
   after making the application: the tracer follows it), ``opentelemetry=provider``
   that provider. Off, nothing here is imported or run.
2. The span follows the HTTP semantic conventions: named ``"{method} {route}"`` (the
   route's pattern, ``http.route``; just the method when no route matched), with
   ``http.request.method`` (``_OTHER`` for a made-up method, the original in
   ``http.request.method_original``), ``url.path``, ``url.query``, ``url.scheme``,
   ``server.address``, ``server.port``, ``client.address``, ``user_agent.original``,
   ``network.protocol.version``; at the end ``http.response.status_code``. A 5xx, or a
   request that ends without a response, is an error (``error.type``); a 4xx is the
   client's, not the server's, as the conventions say for server spans.
3. Its parent is what the request's headers carry, read by the globally configured
   propagator (W3C ``traceparent`` and baggage by default); without one it starts a trace.
4. It starts when the request's head arrived, and is the current span while the handler
   runs (so the handler's own spans, and ``AsyncHTTPClient`` fetches —
   ``tornadish._client.tracing`` —, are its children): the context is attached around
   the handler's start, and the task running a coroutine handler, made inside, keeps
   it. It ends when the response ends (for a WebSocket, with the 101).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import tornadish
from tornadish._client.tracing import TRACER_KEY
from tornadish._http.request import HTTPServerRequest
from tornadish._web.metrics import METHODS

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.context import Context
    from opentelemetry.trace import Span

__all__ = ["ServerTracing"]

_R = TypeVar("_R")

_MISSING = "the opentelemetry setting needs opentelemetry-api: pip install 'tornadish[otel]'"


class ServerTracing:
    """One application's server spans (its ``opentelemetry`` setting)."""

    __slots__ = ("_context", "_propagate", "_trace", "_tracer")

    def __init__(self, setting: object) -> None:
        try:
            from opentelemetry import context, propagate, trace
        except ImportError:
            raise RuntimeError(_MISSING) from None
        if setting is True:
            provider = None
        elif isinstance(setting, trace.TracerProvider):
            provider = setting
        else:
            raise TypeError(
                f"opentelemetry setting: expected True or a TracerProvider, got {setting!r}"
            )
        self._context = context
        self._propagate = propagate
        self._trace = trace
        self._tracer = trace.get_tracer("tornadish", tornadish.version, tracer_provider=provider)

    def start(self, request: HTTPServerRequest, route: str | None) -> tuple[Span, Context]:
        """The span of ``request`` (matched by the route of pattern ``route``), started
        when its head arrived, and the context to run its handler in."""
        trace = self._trace
        parent = self._propagate.extract(request.headers)
        method = request.method
        attributes: dict[str, Any] = {
            "url.path": request.path,
            "url.scheme": request.protocol,
            "server.address": request.host_name,
            "network.protocol.version": request.version.partition("/")[2],
        }
        if method in METHODS:
            attributes["http.request.method"] = method
        else:
            attributes["http.request.method"] = "_OTHER"
            attributes["http.request.method_original"] = method
        if request.query:
            attributes["url.query"] = request.query
        port = _port(request)
        if port is not None:
            attributes["server.port"] = port
        if request.remote_ip:
            attributes["client.address"] = request.remote_ip
        agent = request.headers.get("User-Agent")
        if agent:
            attributes["user_agent.original"] = agent
        if route is not None:
            attributes["http.route"] = route
        name = attributes["http.request.method"]
        if route is not None:
            name = f"{name} {route}"
        span = self._tracer.start_span(
            name,
            parent,
            trace.SpanKind.SERVER,
            attributes,
            start_time=int(request._start_time * 1e9),
        )
        run_in = trace.set_span_in_context(span, parent)
        run_in = self._context.set_value(TRACER_KEY, self._tracer, run_in)
        return span, run_in

    def run(self, run_in: Context, call: Callable[..., _R], *args: Any) -> _R:
        """``call(*args)`` with ``run_in`` as the current context (rule 4)."""
        context = self._context
        token = context.attach(run_in)
        try:
            return call(*args)
        finally:
            context.detach(token)

    def end(self, span: Span, status: int | None) -> None:
        """End ``span`` with the response's ``status`` (None: the request ended without
        a response: the client left, or the server gave up on it)."""
        trace = self._trace
        if status is None:
            span.set_attribute("error.type", "incomplete")
            span.set_status(trace.Status(trace.StatusCode.ERROR, "ended without a response"))
        else:
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_attribute("error.type", str(status))
                span.set_status(trace.Status(trace.StatusCode.ERROR))
        span.end()


def _port(request: HTTPServerRequest) -> int | None:
    """The port the client addressed (from ``Host``), else the scheme's default."""
    host = request.host
    if host.endswith("]") or ":" not in host:
        return 443 if request.protocol == "https" else 80
    port = host.rpartition(":")[2]
    return int(port) if port.isdigit() else None
