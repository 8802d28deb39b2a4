"""ASGI both ways and WSGI, over real sockets: a tornadish Application under uvicorn
answers like tornadish's own server; Starlette and raw ASGI apps mounted with
ASGIHandler; a WSGI app through FallbackHandler + WSGIContainer. WebSockets over ASGI,
both ways: tests/asgi/test_asgi_websocket.py."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

import tornadish
from tornadish.asgi import ASGIAdapter, ASGIHandler, Message, Receive, Scope, Send
from tornadish.httputil import (
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
    ResponseStartLine,
)
from tornadish.web import (
    Application,
    FallbackHandler,
    HTTPError,
    RequestHandler,
    stream_request_body,
)
from tornadish.wsgi import WSGIContainer

from tests.support.servers import free_port

uvicorn = pytest.importorskip("uvicorn")


@asynccontextmanager
async def uvicorn_serving(asgi_app: Any, interface: str = "auto") -> AsyncIterator[str]:
    """Run ``asgi_app`` under a real uvicorn server in the test's loop."""
    port = free_port()
    config = uvicorn.Config(
        asgi_app,
        host="127.0.0.1",
        port=port,
        loop="none",
        lifespan="on",
        log_level="warning",
        interface=interface,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn exited"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 5)


# -- the application under test: served by both servers ------------------------------


class Hello(RequestHandler):
    def get(self) -> None:
        self.set_header("X-Custom", "yes")
        self.set_cookie("a", "1")
        self.set_cookie("b", "2")
        self.write({"hello": self.get_argument("name", "world"), "ip": self.request.remote_ip})


class Echo(RequestHandler):
    def post(self) -> None:
        self.write(
            b"form=%s body=%d" % (self.get_argument("x", "").encode(), len(self.request.body))
        )


class Fail(RequestHandler):
    def get(self, code: str) -> None:
        raise HTTPError(int(code))


class Redirect(RequestHandler):
    def get(self) -> None:
        self.redirect("/hello?name=moved")


class Chunks(RequestHandler):
    async def get(self) -> None:
        for i in range(3):
            self.write(f"part{i};")
            await self.flush()


@stream_request_body
class Upload(RequestHandler):
    def prepare(self) -> None:
        self.received = 0
        self.request.connection.set_max_body_size(1 << 20)  # type: ignore[union-attr]

    def data_received(self, chunk: bytes) -> None:
        self.received += len(chunk)

    def put(self) -> None:
        self.write(str(self.received))


class LongPoll(RequestHandler):
    closed: asyncio.Event

    async def get(self) -> None:
        await asyncio.sleep(10)

    def on_connection_close(self) -> None:
        type(self).closed.set()


def make_app() -> Application:
    return Application(
        [
            (r"/hello", Hello),
            (r"/echo", Echo),
            (r"/fail/(\d+)", Fail),
            (r"/redirect", Redirect),
            (r"/chunks", Chunks),
            (r"/upload", Upload),
            (r"/poll", LongPoll),
        ]
    )


async def _exchange(client: httpx.AsyncClient, base: str) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/hello?name=caf%C3%A9", {}),
        ("HEAD", "/hello", {}),
        ("POST", "/echo", {"data": {"x": "1"}}),
        ("GET", "/fail/404", {}),
        ("GET", "/fail/500", {}),
        ("GET", "/redirect", {}),
        ("GET", "/chunks", {}),
        ("PUT", "/upload", {"content": b"z" * 300_000}),
        ("PUT", "/upload", {"content": b"z" * (2 << 20)}),
        ("DELETE", "/hello", {}),
        ("GET", "/nowhere", {}),
    ]
    for method, path, kwargs in calls:
        r = await client.request(method, base + path, **kwargs)
        out.append(
            (
                method,
                path,
                r.status_code,
                r.content,
                r.headers.get("content-type"),
                r.headers.get("location"),
                r.headers.get("x-custom"),
                r.headers.get("etag"),
                r.headers.get_list("set-cookie"),
            )
        )
    return out


async def test_application_under_uvicorn_answers_like_tornadish_server() -> None:
    app = make_app()
    async with httpx.AsyncClient() as client:
        async with tornadish.serve(app) as server:
            native = await _exchange(client, f"http://127.0.0.1:{server.port}")
        async with uvicorn_serving(app.asgi) as base:
            via_asgi = await _exchange(client, base)
    assert via_asgi == native
    assert native[0][2] == 200 and b'"ip": "127.0.0.1"' in native[0][3]
    assert native[8][2] == 400  # over the limit set in prepare (Tornado's status)


async def test_asgi_client_disconnect_reaches_on_connection_close() -> None:
    LongPoll.closed = asyncio.Event()
    async with uvicorn_serving(make_app().asgi) as base:
        port = int(base.rsplit(":", 1)[1])
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /poll HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.close()
        await asyncio.wait_for(LongPoll.closed.wait(), 3)


async def test_lifespan_runs_startup_and_shutdown_hooks() -> None:
    events: list[str] = []
    adapter = ASGIAdapter(make_app())

    async def started() -> None:
        events.append("startup")

    adapter.on_startup.append(started)
    adapter.on_shutdown.append(lambda: events.append("shutdown"))
    async with uvicorn_serving(adapter) as base:
        assert events == ["startup"]
        async with httpx.AsyncClient() as client:
            assert (await client.get(base + "/hello")).status_code == 200
    assert events == ["startup", "shutdown"]


@pytest.mark.parametrize("interface", ["auto", "asgi3"])
async def test_application_object_itself_is_an_asgi_app(interface: str) -> None:
    # ``uvicorn module:app``: auto-detection treats it as ASGI 2, asgi3 calls it with three
    # arguments; both must reach the same adapter.
    async with uvicorn_serving(make_app(), interface) as base, httpx.AsyncClient() as client:
        r = await client.get(base + "/hello?name=direct")
        assert r.status_code == 200 and r.json()["hello"] == "direct"
        assert (await client.post(base + "/echo", data={"x": "2"})).text == "form=2 body=3"


def test_application_asgi_is_cached() -> None:
    app = make_app()
    assert isinstance(app.asgi, ASGIAdapter)
    assert app.asgi is app.asgi


# -- ASGIHandler: ASGI apps mounted under a route ------------------------------------


def starlette_app() -> Any:
    starlette = pytest.importorskip("starlette")
    del starlette
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
    from starlette.routing import Route

    async def info(request: Request) -> JSONResponse:
        response = JSONResponse(
            {
                "path": request.url.path,
                "root_path": request.scope["root_path"],
                "query": dict(request.query_params),
                "host": request.headers["host"],
            }
        )
        response.set_cookie("s1", "x")
        response.set_cookie("s2", "y")
        response.headers["X-From"] = "starlette"
        return response

    async def echo(request: Request) -> PlainTextResponse:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return PlainTextResponse(f"got {size}", status_code=201)

    async def stream(request: Request) -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for i in range(3):
                yield f"s{i};".encode()
                await asyncio.sleep(0)

        return StreamingResponse(parts(), media_type="text/plain")

    return Starlette(
        routes=[
            Route("/info", info),
            Route("/echo", echo, methods=["POST"]),
            Route("/stream", stream),
        ]
    )


async def test_starlette_mounted_with_asgi_handler() -> None:
    star = starlette_app()
    app = Application(
        [
            (r"/sub/.*", ASGIHandler, {"asgi_app": star, "root_path": "/sub"}),
            (r"/hello", Hello),
        ]
    )
    async with tornadish.serve(app) as server, httpx.AsyncClient() as client:
        base = f"http://127.0.0.1:{server.port}"
        r = await client.get(base + "/sub/info?q=1")
        assert r.status_code == 200
        assert r.json() == {
            "path": "/sub/info",
            "root_path": "/sub",
            "query": {"q": "1"},
            "host": f"127.0.0.1:{server.port}",
        }
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-from"] == "starlette"
        assert len(r.headers.get_list("set-cookie")) == 2
        assert "etag" not in r.headers

        r = await client.post(base + "/sub/echo", content=b"q" * 3_000_000)
        assert (r.status_code, r.text) == (201, "got 3000000")

        r = await client.get(base + "/sub/stream")
        assert r.text == "s0;s1;s2;"
        assert r.headers.get("transfer-encoding") == "chunked"

        assert (await client.get(base + "/sub/missing")).status_code == 404
        assert (await client.get(base + "/hello")).status_code == 200


async def test_asgi_handler_streams_response_parts_as_sent() -> None:
    release = asyncio.Event()

    async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await release.wait()
        await send({"type": "http.response.body", "body": b"second"})

    app = Application([(r"/.*", ASGIHandler, {"asgi_app": raw_app})])
    async with tornadish.serve(app) as server, httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{server.port}/x"
        async with client.stream("GET", url) as r:
            chunks = r.aiter_raw()
            assert await asyncio.wait_for(chunks.__anext__(), 2) == b"first"
            release.set()
            assert b"".join([c async for c in chunks]) == b"second"


async def test_asgi_handler_app_error_before_response_is_500() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("broken app")

    app = Application([(r"/.*", ASGIHandler, {"asgi_app": broken})])
    async with tornadish.serve(app) as server, httpx.AsyncClient() as client:
        r = await client.get(f"http://127.0.0.1:{server.port}/")
        assert r.status_code == 500


async def test_asgi_handler_receive_reports_disconnect_after_response() -> None:
    seen: list[Message] = []

    async def app_(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"  # (so, served without a lifespan)
        # The body streams: parts as they come, then the end (perhaps as an empty part).
        while not seen or seen[-1].get("more_body"):
            seen.append(await receive())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        seen.append(await receive())

    app = Application([(r"/.*", ASGIHandler, {"asgi_app": app_})])
    async with tornadish.serve(app) as server, httpx.AsyncClient() as client:
        r = await client.post(f"http://127.0.0.1:{server.port}/", content=b"abc")
        assert r.status_code == 204
    assert b"".join(m["body"] for m in seen[:-1]) == b"abc"
    assert all(m["type"] == "http.request" for m in seen[:-1])
    assert seen[-2]["more_body"] is False
    assert seen[-1] == {"type": "http.disconnect"}


# -- WSGI ------------------------------------------------------------------------------


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("wsgi failure")
    if path == "/slow":
        time.sleep(0.3)
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    text = (
        f"{environ['REQUEST_METHOD']} {path} q={environ['QUERY_STRING']} "
        f"len={len(body)} ua={environ.get('HTTP_X_TEST', '')} "
        f"thread={threading.current_thread() is threading.main_thread()}"
    )
    start_response("201 Created", [("Content-Type", "text/plain"), ("X-Wsgi", "1")])
    return [text.encode()]


async def test_wsgi_container_behind_fallback_handler() -> None:
    pool = concurrent.futures.ThreadPoolExecutor(2)
    app = Application(
        [
            (r"/native", Hello),
            (r".*", FallbackHandler, {"fallback": WSGIContainer(wsgi_app, executor=pool)}),
        ]
    )
    async with tornadish.serve(app) as server, httpx.AsyncClient() as client:
        base = f"http://127.0.0.1:{server.port}"
        r = await client.post(base + "/w/caf%C3%A9?a=1", content=b"12345", headers={"X-Test": "t"})
        assert r.status_code == 201
        assert r.headers["x-wsgi"] == "1"
        assert r.headers["content-type"] == "text/plain"
        assert r.text == "POST /w/caf\xc3\xa9 q=a=1 len=5 ua=t thread=False"

        # Given an executor, the WSGI app runs there: a slow one does not hold up the loop.
        slow = asyncio.ensure_future(client.get(base + "/slow"))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        assert (await client.get(base + "/native")).status_code == 200
        assert time.monotonic() - started < 0.2
        assert (await slow).status_code == 201

        assert (await client.get(base + "/boom")).status_code == 500
        r = await client.head(base + "/x")
        assert (r.status_code, r.content) == (201, b"")
    pool.shutdown()


# -- Tornado's raw connection interface (write_headers / write / finish) over ASGI --------


class _RawAnswer(HTTPMessageDelegate):
    """A delegate that answers through ``request_conn`` the way pre-Application code does."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def finish(self) -> None:
        headers = HTTPHeaders({"Content-Type": "text/plain", "X-Raw": "yes"})
        self.conn.write_headers(ResponseStartLine("HTTP/1.1", 201, "Created"), headers, b"one,")
        self.conn.write(b"two")
        self.conn.finish()


class _RawRouter(HTTPServerConnectionDelegate):
    def start_request(self, server_conn: object, request_conn: Any) -> HTTPMessageDelegate:
        return _RawAnswer(request_conn)


async def test_raw_connection_interface_under_uvicorn_and_tornadish(serve: Any) -> None:
    srv = await serve(_RawRouter())
    async with uvicorn_serving(ASGIAdapter(_RawRouter())) as base, httpx.AsyncClient() as c:
        for url in (srv.base_url, base):
            r = await c.get(url + "/")
            assert (r.status_code, r.text, r.headers["x-raw"]) == (201, "one,two", "yes")
