"""Prometheus metrics of the server (the ``metrics`` setting), and ``MetricsHandler``,
which serves them (on ``prometheus_client``: ``pip install 'tornadish[prometheus]'``).

Rules of this module:

1. The metrics (prefix ``tornadish_``):

   - ``http_requests_total{route,method,status}``: requests answered;
   - ``http_request_duration_seconds{route,method}``: a histogram, from the request's
     head to its response's end (prometheus_client's default buckets, 5 ms to 10 s);
   - ``http_requests_in_flight``: requests being handled;
   - ``http_request_body_bytes_total{route,method}``,
     ``http_response_body_bytes_total{route,method}``: bytes in and out (request bodies
     as received; response bodies as sent, after compression);
   - ``http_connections_open``: connections the application's HTTP servers hold (those
     upgraded to WebSocket included: they are still open connections);
   - ``websocket_connections_open``: WebSockets open.

   ``route`` is the route's name, else its pattern, ``(unmatched)`` when no route
   matched: never the path, so a crawler cannot make a label per URL. ``method`` is one
   of the methods RFC 9110 and RFC 5789 define, ``_OTHER`` for any other a client
   makes up, for the same reason.
2. Nothing of prometheus_client is imported, and no metric made, before the first
   connection or request needs one, or ``MetricsHandler`` is first asked. So
   ``tornadish.run(app, workers=N)`` can still switch prometheus_client to its
   multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) before forking
   (``tornadish._runner.prometheus``): that mode is chosen when prometheus_client is
   imported. Its gauges sum over live processes (``livesum``).
3. The metric objects are made once per registry, for every application that names it:
   prometheus_client refuses a second metric of a name in one registry. That table is
   the module's one piece of state, and holds its registries weakly.
4. Each labelled child is looked up once per (route, method, status) and kept: a request
   then costs a dictionary look-up and six updates.
"""

from __future__ import annotations

import importlib.util
import os
import weakref
from typing import TYPE_CHECKING, Any

from tornadish._web.handler import RequestHandler

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["METHODS", "UNMATCHED", "MetricsHandler", "ServerMetrics"]

#: The route label of a request no route matched.
UNMATCHED = "(unmatched)"
#: The methods kept as labels; any other is ``_OTHER``.
METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
)

_MISSING = "metrics need prometheus_client: pip install 'tornadish[prometheus]'"


def check_setting(value: object) -> None:
    """Refuse a ``metrics`` setting that is neither True nor a registry, or one given
    where prometheus_client is not installed (at start-up, not at the first request)."""
    if value is not True and not callable(getattr(value, "register", None)):
        raise TypeError(f"metrics setting: expected True or a CollectorRegistry, got {value!r}")
    if importlib.util.find_spec("prometheus_client") is None:
        raise RuntimeError(_MISSING)


class _Metrics:
    """The metric objects of one registry (made once: rule 3)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        route_method = ("route", "method")
        self.requests: Counter = Counter(
            "tornadish_http_requests",
            "HTTP requests answered, by route, method and status.",
            ("route", "method", "status"),
            registry=registry,
        )
        self.duration: Histogram = Histogram(
            "tornadish_http_request_duration_seconds",
            "Time from a request's head to the end of its response.",
            route_method,
            registry=registry,
        )
        self.bytes_in: Counter = Counter(
            "tornadish_http_request_body_bytes",
            "Request body bytes received.",
            route_method,
            registry=registry,
        )
        self.bytes_out: Counter = Counter(
            "tornadish_http_response_body_bytes",
            "Response body bytes sent (after compression).",
            route_method,
            registry=registry,
        )
        self.in_flight: Gauge = Gauge(
            "tornadish_http_requests_in_flight",
            "Requests being handled.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.connections: Gauge = Gauge(
            "tornadish_http_connections_open",
            "Connections the HTTP servers hold (WebSockets included).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.websockets: Gauge = Gauge(
            "tornadish_websocket_connections_open",
            "WebSocket connections open.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        # (route, method, status) -> (requests, duration, bytes in, bytes out) children.
        self.children: dict[tuple[str, str, int], tuple[Any, Any, Any, Any]] = {}

    def children_for(self, route: str, method: str, status: int) -> tuple[Any, Any, Any, Any]:
        key = (route, method, status)
        found = self.children.get(key)
        if found is None:
            found = self.children[key] = (
                self.requests.labels(route, method, str(status)),
                self.duration.labels(route, method),
                self.bytes_in.labels(route, method),
                self.bytes_out.labels(route, method),
            )
        return found


# Rule 3: the metric objects of each registry, shared by the applications that name it.
_BY_REGISTRY: weakref.WeakKeyDictionary[Any, _Metrics] = weakref.WeakKeyDictionary()


def _default_registry() -> CollectorRegistry:
    from prometheus_client import REGISTRY

    return REGISTRY


class ServerMetrics:
    """One application's metrics (its ``metrics`` setting: True for prometheus_client's
    default registry, or a ``CollectorRegistry``), updated by ``tornadish._web.observe``."""

    __slots__ = ("_made", "_registry")

    def __init__(self, setting: object) -> None:
        check_setting(setting)
        self._registry = None if setting is True else setting
        self._made: _Metrics | None = None

    @property
    def registry(self) -> CollectorRegistry:
        """The registry the metrics are registered in."""
        registry = self._registry
        return _default_registry() if registry is None else registry  # type: ignore[return-value]

    def _metrics(self) -> _Metrics:
        made = self._made
        if made is None:
            # Rule 2: made when first needed; rule 3: once per registry.
            registry = self.registry
            made = _BY_REGISTRY.get(registry)
            if made is None:
                made = _BY_REGISTRY[registry] = _Metrics(registry)
            self._made = made
        return made

    def request_started(self) -> None:
        """A request is being handled."""
        self._metrics().in_flight.inc()

    def request_ended(self) -> None:
        """A request :meth:`request_started` counted is no longer being handled."""
        self._metrics().in_flight.dec()

    def request_answered(
        self,
        route: str | None,
        method: str,
        status: int,
        seconds: float,
        bytes_in: int,
        bytes_out: int,
    ) -> None:
        """A request was answered with ``status``, in ``seconds``."""
        if method not in METHODS:
            method = "_OTHER"
        requests, duration, received, sent = self._metrics().children_for(
            UNMATCHED if route is None else route, method, status
        )
        requests.inc()
        duration.observe(seconds)
        if bytes_in:
            received.inc(bytes_in)
        if bytes_out:
            sent.inc(bytes_out)

    def websocket(self, delta: int) -> None:
        """A WebSocket opened (+1) or closed (-1)."""
        self._metrics().websockets.inc(delta)

    def connection(self, delta: int) -> None:
        """A connection opened (+1) or closed (-1): the servers' ``connection_watch``."""
        self._metrics().connections.inc(delta)


class MetricsHandler(RequestHandler):
    """Serves the metrics in Prometheus' text format (or OpenMetrics, when the scraper
    asks for it in ``Accept``); mount it where Prometheus scrapes:

    >>> app = Application([(r"/metrics", MetricsHandler)], metrics=True)  # doctest: +SKIP

    What it serves: the registry given as its ``registry`` argument, else the
    application's ``metrics`` setting when that is a registry, else prometheus_client's
    default registry. Under prometheus_client's multiprocess mode
    (``PROMETHEUS_MULTIPROC_DIR`` set, as ``tornadish.run(app, workers=N)`` arranges),
    the metrics of every worker process, summed, as prometheus_client prescribes.
    ``?name[]=NAME`` (repeated) serves only the metrics named. Compressed when the
    application's ``compress_response`` is on, like any response.
    """

    def initialize(self, registry: CollectorRegistry | None = None) -> None:
        self._registry = registry

    def get(self) -> None:
        from prometheus_client import CollectorRegistry, exposition

        registry: Any
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            # A fresh registry per scrape, reading every process's files (the
            # prometheus_client documentation's recipe).
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        elif self._registry is not None:
            registry = self._registry
        else:
            setting = self.settings.get("metrics")
            no_registry = setting is None or isinstance(setting, bool)
            registry = _default_registry() if no_registry else setting
        names = self.get_query_arguments("name[]")
        if names:
            registry = registry.restricted_registry(names)
        encoder, content_type = exposition.choose_encoder(self.request.headers.get("Accept", ""))
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", "no-store")
        self.write(encoder(registry))
