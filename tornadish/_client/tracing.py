"""Client spans: an ``AsyncHTTPClient`` fetch made inside an OpenTelemetry trace gets a
span of kind CLIENT and carries the trace on (W3C ``traceparent``).

Rules of this module:

1. Only inside a trace: a fetch is traced when a valid span is current — the server
   span of the request a handler is answering (``opentelemetry=True``,
   ``tornadish._web.tracing``), or a span of the application's own. Outside one,
   nothing is made and nothing is sent.
2. Free when OpenTelemetry is not in use: a span can only be current once
   ``opentelemetry.trace`` has been imported, so a fetch first looks for that module in
   ``sys.modules`` (a dictionary look-up), and imports nothing.
3. One span per request sent (each hop of a redirect has its own), from the moment the
   fetch queues for a connection to the response's end; named by the method, with the
   HTTP semantic conventions' attributes (``http.request.method``, ``url.full`` without
   credentials, ``server.address``, ``server.port``, ``http.response.status_code``,
   ``error.type``). A status from 400 on, or a failure, is an error.
4. The tracer is the one the server span's request put in the context (so spans of one
   request go to one ``TracerProvider``, also one given in the ``opentelemetry``
   setting), else the global provider's.
5. The trace goes out through the globally configured propagator (W3C trace context and
   baggage by default), written into the request's headers, replacing a
   ``traceparent`` the caller set.
"""

from __future__ import annotations

import functools
import sys
import urllib.parse
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import tornadish

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

__all__ = ["TRACER_KEY", "ClientSpan", "client_span"]

#: The context key under which a server span's request keeps its tracer (rule 4).
TRACER_KEY = "tornadish.tracer"


class _Answer(Protocol):
    code: int


_A = TypeVar("_A", bound=_Answer)


def client_span(request: Any) -> ClientSpan | None:
    """A span for sending ``request`` (an ``HTTPRequest``, or the client's view of one
    with its defaults), its trace written into ``request.headers``; None outside a
    trace (rules 1 and 2)."""
    if "opentelemetry.trace" not in sys.modules:
        return None
    return _start(request)


def _start(request: Any) -> ClientSpan | None:
    from opentelemetry import context, propagate, trace

    if not trace.get_current_span().get_span_context().is_valid:
        return None
    tracer = context.get_value(TRACER_KEY)
    if not isinstance(tracer, trace.Tracer):
        tracer = _global_tracer()
    method: str = request.method
    url = urllib.parse.urlsplit(request.url)
    host = url.hostname or ""
    port = url.port or (443 if url.scheme in ("https", "wss") else 80)
    netloc = f"[{host}]" if ":" in host else host
    if url.port is not None:
        netloc += f":{url.port}"
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.full": urllib.parse.urlunsplit(url._replace(netloc=netloc)),
        "server.address": host,
        "server.port": port,
    }
    span = tracer.start_span(method, kind=trace.SpanKind.CLIENT, attributes=attributes)
    propagate.inject(request.headers, context=trace.set_span_in_context(span))
    return ClientSpan(span)


@functools.cache
def _global_tracer() -> Tracer:
    # Made once: the global provider's (a proxy that follows it until one is set).
    from opentelemetry import trace

    return trace.get_tracer("tornadish.httpclient", tornadish.version)


class ClientSpan:
    """The span of one request sent; :meth:`around` ends it with the outcome."""

    __slots__ = ("span",)

    def __init__(self, span: Span) -> None:
        self.span = span

    async def around(self, exchange: Awaitable[_A]) -> _A:
        """Await ``exchange`` (what sends the request and reads its answer, something
        with a ``code``), then end the span with its status, or with its error."""
        from opentelemetry.trace import Status, StatusCode

        span = self.span
        try:
            answer = await exchange
        except BaseException as e:
            if isinstance(e, Exception):
                span.record_exception(e)
            span.set_attribute("error.type", type(e).__qualname__)
            span.set_status(Status(StatusCode.ERROR, str(e) or type(e).__qualname__))
            span.end()
            raise
        code = answer.code
        span.set_attribute("http.response.status_code", code)
        if code >= 400:
            span.set_attribute("error.type", str(code))
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        return answer
