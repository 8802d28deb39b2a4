"""One set of handshake rules, every path, over real sockets: a ``WebSocketHandler`` and
an ASGI app mounted with ``ASGIHandler`` refuse a bad handshake with the same status,
body and headers, accept a good one with the same 101, and answer a connection that
cannot upgrade (a plain request through an ASGI server's ``http`` scope) the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tornadish.asgi import ASGIHandler
from tornadish.web import Application
from tornadish.websocket import WebSocketHandler

from tests.support.servers import free_port

# The handshake is the HTTP/1.1 engine's part too: every test here runs on both.
pytestmark = pytest.mark.usefixtures("http_engine")

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


class Echo(WebSocketHandler):
    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return "chat" if "chat" in subprotocols else None

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app: a WebSocket echo that picks ``chat``; plain HTTP says so."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain http"})
        return
    assert (await receive())["type"] == "websocket.connect"
    chosen = "chat" if "chat" in scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": chosen})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": message.get("text")})


def app() -> Application:
    return Application(
        [
            (r"/native", Echo),
            (r"/mounted(?:/.*)?", ASGIHandler, {"asgi_app": echo_app, "root_path": "/mounted"}),
        ]
    )


def handshake(path: str, **overrides: str | None) -> bytes:
    headers: dict[str, str] = {
        "Host": "127.0.0.1",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
    }
    for name, value in overrides.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"GET {path} HTTP/1.1\r\n{lines}\r\n".encode()


async def answer(port: int, data: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """Send ``data``; the status line, the headers (lower-cased names) and the body of
    the answer (a 101's body is empty: what follows is the WebSocket's)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        status, *lines = head[:-4].split(b"\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", b"0"))
        body = await asyncio.wait_for(reader.readexactly(length), 5) if length else b""
        return status, headers, body
    finally:
        writer.close()


# The parts of an answer the handshake rules decide (not Date, Server, Etag, ...).
DECIDED = frozenset(
    b"content-length sec-websocket-version upgrade connection sec-websocket-accept "
    b"sec-websocket-protocol sec-websocket-extensions".split()
)


def decided(status: bytes, headers: dict[bytes, bytes], body: bytes) -> Any:
    return status, {k: v for k, v in headers.items() if k in DECIDED}, body


@pytest.mark.parametrize(
    ("overrides", "status", "body"),
    [
        (
            {"Connection": "keep-alive"},
            b"HTTP/1.1 400 Bad Request",
            b'"Connection" must be "Upgrade".',
        ),
        ({"Connection": None}, b"HTTP/1.1 400 Bad Request", b'"Connection" must be "Upgrade".'),
        ({"Sec-WebSocket-Version": "8"}, b"HTTP/1.1 426 Upgrade Required", b""),
        ({"Sec-WebSocket-Version": None}, b"HTTP/1.1 426 Upgrade Required", b""),
        (
            {"Sec-WebSocket-Key": "short"},
            b"HTTP/1.1 400 Bad Request",
            b"Missing/Invalid WebSocket headers",
        ),
        (
            {"Sec-WebSocket-Key": None},
            b"HTTP/1.1 400 Bad Request",
            b"Missing/Invalid WebSocket headers",
        ),
    ],
)
async def test_native_and_mounted_refuse_a_bad_handshake_alike(
    serve: Any, overrides: dict[str, str | None], status: bytes, body: bytes
) -> None:
    srv = await serve(app())
    native = decided(*await answer(srv.port, handshake("/native", **overrides)))
    mounted = decided(*await answer(srv.port, handshake("/mounted/ws", **overrides)))
    assert native == mounted
    assert native[0] == status and native[2] == body
    if status.startswith(b"HTTP/1.1 426"):
        assert native[1][b"sec-websocket-version"] == b"13"


async def test_native_and_mounted_accept_a_good_handshake_alike(serve: Any) -> None:
    srv = await serve(app())
    request = {"Sec-WebSocket-Protocol": "v1, chat"}
    native = decided(*await answer(srv.port, handshake("/native", **request)))
    mounted = decided(*await answer(srv.port, handshake("/mounted/ws", **request)))
    assert native == mounted
    assert native[0].startswith(b"HTTP/1.1 101 ")
    assert native[1:] == (
        {
            b"upgrade": b"websocket",
            b"connection": b"Upgrade",
            b"sec-websocket-accept": ACCEPT,
            b"sec-websocket-protocol": b"chat",
        },
        b"",
    )


async def test_without_upgrade_websocket_native_refuses_and_mounted_serves_http(
    serve: Any,
) -> None:
    # Not a WebSocket request at all: the native route refuses it as Tornado does; for
    # a mounted app it is an ordinary request for the app's http scope.
    srv = await serve(app())
    for upgrade in (None, "h2c"):
        status, _, body = await answer(srv.port, handshake("/native", Upgrade=upgrade))
        assert (status, body) == (
            b"HTTP/1.1 400 Bad Request",
            b'Can "Upgrade" only to "WebSocket".',
        )
        status, _, body = await answer(srv.port, handshake("/mounted/x", Upgrade=upgrade))
        assert (status, body) == (b"HTTP/1.1 200 OK", b"plain http")


@asynccontextmanager
async def uvicorn_without_websockets(asgi_app: Any) -> AsyncIterator[int]:
    """``asgi_app`` under uvicorn with no WebSocket support: an upgrade request reaches
    the app as a plain ``http`` scope, on a connection that cannot upgrade."""
    uvicorn = pytest.importorskip("uvicorn")
    port = free_port()
    config = uvicorn.Config(
        asgi_app, host="127.0.0.1", port=port, loop="none", ws="none", log_level="error"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn exited"
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_a_connection_that_cannot_upgrade_is_refused_with_400_on_both_paths() -> None:
    async with uvicorn_without_websockets(app().asgi) as port:
        for path in ("/native", "/mounted/ws"):
            status, _, body = await answer(port, handshake(path))
            assert status == b"HTTP/1.1 400 Bad Request", path
            assert body == b"WebSocket upgrade not supported on this connection", path
