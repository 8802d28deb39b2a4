"""OpenTelemetry spans (the ``opentelemetry`` setting) over real sockets, recorded by the
SDK's in-memory exporter: one SERVER span per request, named and attributed by the
HTTP semantic conventions, parented by an incoming ``traceparent``; a fetch made by a
handler carries the trace on and records a CLIENT span between the two servers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from typing import Any

import httpx
import pytest

from tornadish.httpclient import AsyncHTTPClient, HTTPClientError
from tornadish.web import Application, RequestHandler, url

from tests.support.servers import free_port

pytest.importorskip("opentelemetry.sdk", reason="needs opentelemetry-sdk (the test extra)")
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
PARENT_ID = 0xB7AD6B7169203331
TRACEPARENT = f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


class Hello(RequestHandler):
    def get(self, name: str) -> None:
        self.write("hello " + name)


class Boom(RequestHandler):
    def get(self) -> None:
        raise RuntimeError("boom")


class Teapot(RequestHandler):
    def get(self) -> None:
        self.set_status(418)


class Echo(RequestHandler):
    """Answers with the traceparent it received ('-' without one)."""

    def get(self) -> None:
        self.write(self.request.headers.get("traceparent", "-"))


class Fetcher(RequestHandler):
    """Fetches the URL given in ``to`` and answers with what came back."""

    async def get(self) -> None:
        try:
            response = await AsyncHTTPClient().fetch(self.get_argument("to"))
        except (HTTPClientError, OSError) as e:
            self.write(f"failed: {type(e).__name__}")
            return
        self.write(response.body)


class Slow(RequestHandler):
    cancel_on_disconnect = True  # the client leaving ends the request

    async def get(self) -> None:
        self.settings["entered"].set()
        await asyncio.sleep(30)


def _app(provider: Any, **settings: Any) -> Application:
    return Application(
        [
            url(r"/hello/(\w+)", Hello, name="hello"),
            (r"/boom", Boom),
            (r"/teapot", Teapot),
            (r"/echo", Echo),
            (r"/fetch", Fetcher),
            (r"/slow", Slow),
        ],
        opentelemetry=provider,
        entered=asyncio.Event(),
        **settings,
    )


def _servers(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]


async def test_a_server_span_per_request_named_by_its_route(
    serve: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    srv = await serve(_app(provider))
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        await client.get("/hello/ann?x=1", headers={"User-Agent": "probe/2"})
        await client.get("/nowhere")
        await client.get("/boom")
        await client.get("/teapot")
    hello, unmatched, boom, teapot = _servers(exporter)
    assert hello.name == r"GET /hello/(\w+)"  # the pattern, whatever the route's name
    assert hello.kind == SpanKind.SERVER
    assert hello.parent is None  # no traceparent came: a trace of its own
    assert dict(hello.attributes or {}) == {
        "http.request.method": "GET",
        "http.route": r"/hello/(\w+)",
        "url.path": "/hello/ann",
        "url.query": "x=1",
        "url.scheme": "http",
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "client.address": "127.0.0.1",
        "user_agent.original": "probe/2",
        "network.protocol.version": "1.1",
        "http.response.status_code": 200,
    }
    assert hello.status.status_code == StatusCode.UNSET
    assert hello.start_time is not None and hello.end_time is not None
    assert hello.start_time <= hello.end_time
    assert unmatched.name == "GET" and "http.route" not in (unmatched.attributes or {})
    assert unmatched.status.status_code == StatusCode.UNSET  # a 404 is the client's
    assert boom.status.status_code == StatusCode.ERROR
    assert (boom.attributes or {})["error.type"] == "500"
    assert (teapot.attributes or {})["http.response.status_code"] == 418
    assert teapot.status.status_code == StatusCode.UNSET


async def test_an_incoming_traceparent_is_the_parent(
    serve: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    srv = await serve(_app(provider))
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        await client.get("/hello/x", headers={"traceparent": TRACEPARENT})
    (span,) = _servers(exporter)
    assert span.context is not None and span.parent is not None
    assert span.context.trace_id == TRACE_ID
    assert span.parent.span_id == PARENT_ID and span.parent.is_remote


async def test_a_fetch_in_a_handler_carries_the_trace_through_a_client_span(
    serve: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    srv = await serve(_app(provider))
    downstream = f"{srv.base_url}/echo"
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        r = await client.get(
            "/fetch", params={"to": downstream}, headers={"traceparent": TRACEPARENT}
        )
    version, trace_id, parent_id, flags = r.text.split("-")
    spans = exporter.get_finished_spans()
    echo = next(s for s in spans if s.name == "GET /echo")
    outer = next(s for s in spans if s.name == "GET /fetch")
    (fetch,) = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert fetch.context is not None and outer.context is not None
    # What went out on the wire: this trace, the client span as the parent.
    assert (version, int(trace_id, 16), int(parent_id, 16)) == (
        "00",
        TRACE_ID,
        fetch.context.span_id,
    )
    assert flags == "01"
    # One trace: incoming -> /fetch -> client span -> /echo.
    assert fetch.parent is not None and fetch.parent.span_id == outer.context.span_id
    assert echo.parent is not None and echo.parent.span_id == fetch.context.span_id
    assert {s.context.trace_id for s in spans if s.context} == {TRACE_ID}
    assert fetch.name == "GET"
    assert dict(fetch.attributes or {}) == {
        "http.request.method": "GET",
        "url.full": downstream,
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "http.response.status_code": 200,
    }
    assert fetch.status.status_code == StatusCode.UNSET
    # The client span lies within the server span that made it.
    assert outer.start_time is not None and fetch.start_time is not None
    assert outer.end_time is not None and fetch.end_time is not None
    assert outer.start_time <= fetch.start_time <= fetch.end_time <= outer.end_time


async def test_a_failed_fetch_is_an_error_client_span(
    serve: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    srv = await serve(_app(provider))
    closed = f"http://127.0.0.1:{free_port()}/"
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        refused = await client.get("/fetch", params={"to": closed})
        missing = await client.get("/fetch", params={"to": srv.base_url + "/nowhere"})
    assert refused.text == "failed: ConnectionRefusedError"
    assert missing.text == "failed: HTTPClientError"
    first, second = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert first.status.status_code == StatusCode.ERROR
    assert (first.attributes or {})["error.type"] == "ConnectionRefusedError"
    assert second.status.status_code == StatusCode.ERROR
    assert (second.attributes or {})["error.type"] == "404"
    assert (second.attributes or {})["http.response.status_code"] == 404


async def test_no_trace_no_client_span_and_nothing_sent(
    serve: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    srv = await serve(_app(provider))
    plain = await serve(Application([(r"/echo", Echo), (r"/fetch", Fetcher)]))
    # A fetch made outside any trace, and one by a handler of an application without
    # the setting: no span, no traceparent.
    assert (await AsyncHTTPClient().fetch(srv.base_url + "/echo")).body == b"-"
    r = await AsyncHTTPClient().fetch(f"{plain.base_url}/fetch?to={plain.base_url}/echo")
    assert r.body == b"-"
    assert [s.name for s in exporter.get_finished_spans()] == ["GET /echo"]


async def test_a_fetch_inside_the_applications_own_span_carries_it_on(
    serve: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    # The application's own span, of a provider that is not the global one (unset
    # here): the trace still goes on; a client span is recorded by the global
    # provider (test_opentelemetry_true_follows_the_global_provider).
    plain = await serve(Application([(r"/echo", Echo)]))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("job") as job:
        r = await AsyncHTTPClient().fetch(plain.base_url + "/echo")
    _, trace_id, parent_id, _ = r.body.decode().split("-")
    context = job.get_span_context()
    assert (int(trace_id, 16), int(parent_id, 16)) == (context.trace_id, context.span_id)
    assert [s.name for s in exporter.get_finished_spans()] == ["job"]


async def test_a_request_the_client_left_ends_its_span_as_an_error(
    serve: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = _app(provider)
    srv = await serve(app)
    _, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(app.settings["entered"].wait(), 5)
    writer.close()
    for _ in range(500):
        if _servers(exporter):
            break
        await asyncio.sleep(0.01)
    (span,) = _servers(exporter)
    assert span.name == "GET /slow"
    assert span.status.status_code == StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "incomplete"
    assert "http.response.status_code" not in (span.attributes or {})


def test_the_setting_is_checked_at_start_up() -> None:
    with pytest.raises(TypeError, match="opentelemetry setting"):
        Application([], opentelemetry="on")


def test_opentelemetry_true_follows_the_global_provider(tmp_path: Any) -> None:
    # The global provider can be set once per process: checked in a fresh one, set
    # after the application was made (the tracer follows it).
    code = textwrap.dedent(
        """
        import asyncio
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from tornadish.httpclient import AsyncHTTPClient
        from tornadish.web import Application, RequestHandler

        class Hi(RequestHandler):
            def get(self):
                self.write(self.request.headers.get("traceparent", "-"))

        app = Application([(r"/hi", Hi)], opentelemetry=True)
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)

        async def main():
            server = app.listen(0, "127.0.0.1")
            with trace.get_tracer("job").start_as_current_span("job"):
                r = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{server.port}/hi")
            server.stop()
            spans = {s.name: s for s in exporter.get_finished_spans()}
            print(sorted((s.name, s.kind.name) for s in spans.values()))
            sent = r.body.decode().split("-")[2]
            print(sent == f"{spans['GET'].context.span_id:016x}")
            print(spans["GET"].parent.span_id == spans["job"].context.span_id)
            print(spans["GET /hi"].parent.span_id == spans["GET"].context.span_id)

        asyncio.run(main())
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split("\n") == [
        "[('GET', 'CLIENT'), ('GET /hi', 'SERVER'), ('job', 'INTERNAL')]",
        "True",  # the client span is the parent sent
        "True",  # the application's span is the client span's parent
        "True",  # and the server's span the client span's child
        "",
    ], out.stderr


def test_tracing_off_touches_nothing() -> None:
    app = Application([(r"/", Hello)])
    assert app._observer is None
    assert trace.get_current_span().get_span_context().is_valid is False


async def test_a_websocket_handshake_is_a_span_ended_with_its_101(
    serve: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    from tornadish.websocket import WebSocketHandler, websocket_connect

    class Echo(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            self.write_message(message)

    srv = await serve(Application([(r"/ws", Echo)], opentelemetry=provider))
    ws = await websocket_connect(f"ws://127.0.0.1:{srv.port}/ws")
    ws.write_message("hi")
    assert await ws.read_message() == "hi"
    (span,) = _servers(exporter)  # ended with the handshake, the socket still open
    assert span.name == "GET /ws"
    assert (span.attributes or {})["http.response.status_code"] == 101
    assert span.status.status_code == StatusCode.UNSET
    ws.close()


async def test_a_failing_tracer_does_not_fail_the_request(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenTracer(trace.Tracer):
        def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
            raise RuntimeError("tracing is down")

        def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("tracing is down")

    class Broken(trace.TracerProvider):
        def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
            return BrokenTracer()

    srv = await serve(_app(Broken()))
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        r = await client.get("/hello/x")
    assert r.text == "hello x"
    assert any("Could not observe" in rec.getMessage() for rec in caplog.records)
