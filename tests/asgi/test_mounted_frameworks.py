"""Other frameworks' real apps mounted in a tornadish Application, over real sockets:
FastAPI and Starlette with ASGIHandler (their lifespan: startup before the first request,
shutdown with the server's graceful shutdown, a failed startup answered 503), Flask and
Django with WSGIContainer (a chunked request body reaches them whole)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

import tornadish
from tornadish.asgi import ASGIHandler, Receive, Scope, Send
from tornadish.web import Application, FallbackHandler
from tornadish.websocket import websocket_connect
from tornadish.wsgi import WSGIContainer

fastapi = pytest.importorskip("fastapi", reason="FastAPI is in the test extra")
flask = pytest.importorskip("flask", reason="Flask is in the test extra")
django = pytest.importorskip("django", reason="Django is in the test extra")

# (FastAPI reads the endpoint's annotation from the module's names.)
from fastapi import FastAPI, Request  # noqa: E402


def mounted(asgi_app: Any, **options: Any) -> Application:
    return Application(
        [(r"/api/.*", ASGIHandler, {"asgi_app": asgi_app, "root_path": "/api", **options})]
    )


def fastapi_app(events: list[str], *, fail: bool = False, slow: asyncio.Event | None = None) -> Any:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        await asyncio.sleep(0.05)  # opening a pool takes a moment
        if fail:
            raise RuntimeError("database unreachable")
        yield {"pool": "open"}
        events.append("shutdown")

    api = FastAPI(lifespan=lifespan)

    @api.get("/items")
    async def items(request: Request) -> dict[str, Any]:
        events.append("request")
        if slow is not None:
            slow.set()
            await asyncio.sleep(0.3)
            events.append("request done")
        return {"pool": request.state.pool, "events": list(events)}

    return api


async def test_fastapi_lifespan_starts_before_the_first_request_and_stops_with_the_server() -> (
    None
):
    events: list[str] = []
    async with tornadish.serve(mounted(fastapi_app(events))) as server:
        assert events == []  # nothing until the app is first given a request
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            first, second = await asyncio.gather(client.get("/api/items"), client.get("/api/items"))
            assert first.status_code == second.status_code == 200
            # The startup ran once, before either request; its state reached both.
            assert events == ["startup", "request", "request"]
            assert first.json()["pool"] == "open"
            assert first.json()["events"][0] == "startup"
    # Leaving serve() is HTTPServer.shutdown: the app's shutdown ran, after its requests.
    assert events == ["startup", "request", "request", "shutdown"]


async def test_fastapi_shutdown_waits_for_its_requests_in_progress() -> None:
    events: list[str] = []
    slow = asyncio.Event()
    server_cm = tornadish.serve(mounted(fastapi_app(events, slow=slow)), grace=10)
    server = await server_cm.__aenter__()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        request = asyncio.ensure_future(client.get("/api/items"))
        await asyncio.wait_for(slow.wait(), 5)
        await server_cm.__aexit__(None, None, None)  # the graceful shutdown
        response = await request
    assert response.status_code == 200
    assert events == ["startup", "request", "request done", "shutdown"]


async def test_failed_startup_is_logged_once_and_every_request_answered_503(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[str] = []
    app = mounted(fastapi_app(events, fail=True))
    with caplog.at_level(logging.ERROR, logger="tornadish.application"):
        async with tornadish.serve(app) as server, httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{server.port}/api/items"
            statuses = [(await client.get(url)).status_code for _ in range(3)]
    assert statuses == [503, 503, 503]
    assert events == ["startup"]  # the app was never given a request
    failures = [r for r in caplog.records if "failed to start" in r.getMessage()]
    assert len(failures) == 1, caplog.records
    assert "database unreachable" in failures[0].getMessage()


async def test_starlette_lifespan_state_reaches_http_and_websocket_scopes() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        yield {"greeting": "hello"}

    async def http(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.state.greeting)

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.state.greeting + " " + await websocket.receive_text())
        await websocket.close()

    star = Starlette(routes=[Route("/hi", http), WebSocketRoute("/ws", ws)], lifespan=lifespan)
    async with tornadish.serve(mounted(star)) as server:
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{server.port}/api/hi")
        assert (r.status_code, r.text) == (200, "hello")
        conn = await websocket_connect(f"ws://127.0.0.1:{server.port}/api/ws")
        await conn.write_message("ws")
        assert await conn.read_message() == "hello ws"
        conn.close()


async def test_an_app_without_lifespan_support_is_served_and_off_runs_none() -> None:
    scopes: list[str] = []

    async def plain(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope["type"])
        assert scope["type"] == "http", "this app knows only http"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})

    async def oblivious(scope: Scope, receive: Receive, send: Send) -> None:
        # Answers any scope as if it were http (sending http messages to the lifespan,
        # which refuses them, as uvicorn does).
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["type"].encode()})

    events: list[str] = []
    app = Application(
        [
            (r"/plain/.*", ASGIHandler, {"asgi_app": plain}),
            (r"/oblivious/.*", ASGIHandler, {"asgi_app": oblivious}),
            (
                r"/api/.*",
                ASGIHandler,
                {"asgi_app": fastapi_app(events), "root_path": "/api", "lifespan": "off"},
            ),
        ]
    )
    async with tornadish.serve(app) as server, httpx.AsyncClient() as client:
        r = await client.get(f"http://127.0.0.1:{server.port}/plain/x")
        assert (r.status_code, r.text) == (200, "plain")
        assert scopes == ["lifespan", "http"]
        r = await client.get(f"http://127.0.0.1:{server.port}/oblivious/x")
        assert (r.status_code, r.text) == (200, "http")
        # lifespan="off": the app is called for requests only (FastAPI's own lifespan
        # never runs, so its state is missing and the endpoint fails).
        r = await client.get(f"http://127.0.0.1:{server.port}/api/items")
        assert r.status_code == 500
    assert events == ["request"]


def test_lifespan_option_is_checked() -> None:
    from tornadish.httputil import HTTPServerRequest

    app = mounted(fastapi_app([]), lifespan="sometimes")
    request = HTTPServerRequest(method="GET", uri="/api/items")
    with pytest.raises(ValueError, match="lifespan must be 'auto', 'on' or 'off'"):
        ASGIHandler(app, request, asgi_app=None, lifespan="sometimes")


# -- WSGI: a chunked body (no Content-Length, as httpx streams one) -------------------

BODY = b"".join(b"%05d:" % i + b"x" * 994 for i in range(40))  # 40 kB in 1 kB parts


async def _chunked() -> AsyncIterator[bytes]:
    for i in range(0, len(BODY), 1000):
        yield BODY[i : i + 1000]
        await asyncio.sleep(0)


async def _post_chunked(app: Application) -> httpx.Response:
    async with tornadish.serve(app) as server, httpx.AsyncClient() as client:
        return await client.post(f"http://127.0.0.1:{server.port}/echo", content=_chunked())


async def test_chunked_post_reaches_flask_whole() -> None:
    flask_app = flask.Flask("mounted")

    @flask_app.post("/echo")
    def echo() -> dict[str, Any]:
        # (Werkzeug reads a chunked body to the end of wsgi.input: wsgi.input_terminated.)
        request = flask.request
        return {
            "transfer_encoding": request.headers.get("Transfer-Encoding"),
            "body": request.get_data().decode(),
        }

    app = Application([(r".*", FallbackHandler, {"fallback": WSGIContainer(flask_app)})])
    r = await _post_chunked(app)
    assert r.status_code == 200
    assert r.json() == {"transfer_encoding": "chunked", "body": BODY.decode()}


def _django_wsgi_app() -> Any:
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="tests only",
            ALLOWED_HOSTS=["127.0.0.1"],
            ROOT_URLCONF=__name__,
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
            USE_TZ=True,
        )
    return get_wsgi_application()


def _django_echo(request: Any) -> Any:
    from django.http import JsonResponse

    return JsonResponse(
        {
            "transfer_encoding": request.headers.get("Transfer-Encoding"),
            "content_length": request.META.get("CONTENT_LENGTH"),
            "body": request.body.decode(),
        }
    )


def _urlpatterns() -> list[Any]:
    from django.urls import path

    return [path("echo", _django_echo)]


urlpatterns = _urlpatterns()  # this module is the Django project's URLconf


async def test_chunked_post_reaches_django_whole() -> None:
    container = WSGIContainer(_django_wsgi_app())
    app = Application([(r".*", FallbackHandler, {"fallback": container})])
    r = await _post_chunked(app)
    assert r.status_code == 200, r.text
    # (Django reads CONTENT_LENGTH bytes: the length of the buffered body.)
    assert r.json() == {
        "transfer_encoding": "chunked",
        "content_length": str(len(BODY)),
        "body": BODY.decode(),
    }
