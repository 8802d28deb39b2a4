"""The connection contract on the ASGI side (``ASGIConnection``), driven by hand with ASGI
messages: ``connection.stream`` for long polls, ``get_extra_info`` from the scope,
``max_body_size``, ``closed``/``close()``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tornadish.asgi import ASGIAdapter, Message
from tornadish.httputil import HTTPConnection
from tornadish.web import Application, RequestHandler, stream_request_body


def _scope(path: str = "/", method: str = "GET") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"example.com")],
        "client": ("203.0.113.9", 51000),
        "server": ("127.0.0.1", 8000),
    }


class _Client:
    """The ASGI server's side: what the app receives, and what it sent."""

    def __init__(self, *messages: Message) -> None:
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        for m in messages:
            self.inbox.put_nowait(m)
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        return await self.inbox.get()

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")

    @property
    def status(self) -> int:
        return int(next(m["status"] for m in self.sent if m["type"] == "http.response.start"))


def _conn(handler: RequestHandler) -> HTTPConnection:
    conn = handler.request.connection
    assert conn is not None
    return conn


async def test_long_poll_sees_the_client_leave_through_the_stream() -> None:
    state: dict[str, Any] = {"started": asyncio.Event(), "called": asyncio.Event()}

    class LongPoll(RequestHandler):
        async def get(self) -> None:
            stream = _conn(self).stream
            state["before"] = stream.closed()
            stream.set_close_callback(state["called"].set)
            state["started"].set()
            while not stream.closed():
                await asyncio.sleep(0.01)
            state["after"] = stream.closed()

    client = _Client({"type": "http.request", "body": b"", "more_body": False})
    adapter = ASGIAdapter(Application([(r"/poll", LongPoll)]))
    task = asyncio.ensure_future(adapter(_scope("/poll"), client.receive, client.send))
    await asyncio.wait_for(state["started"].wait(), 2)
    assert not state["called"].is_set()
    client.inbox.put_nowait({"type": "http.disconnect"})
    await asyncio.wait_for(state["called"].wait(), 2)
    await asyncio.wait_for(task, 2)
    for _ in range(100):
        if "after" in state:
            break
        await asyncio.sleep(0.01)
    assert state["before"] is False and state["after"] is True


async def test_stream_write_is_refused_clearly_under_asgi() -> None:
    seen: dict[str, Any] = {}

    class Raw(RequestHandler):
        def get(self) -> None:
            with pytest.raises(NotImplementedError, match="ASGI"):
                _conn(self).stream.write(b"HTTP/1.1 200 OK\r\n\r\n")
            seen["refused"] = True
            self.write("ok")

    client = _Client({"type": "http.request", "body": b"", "more_body": False})
    await ASGIAdapter(Application([(r"/", Raw)]))(_scope(), client.receive, client.send)
    assert seen == {"refused": True}
    assert (client.status, client.body) == (200, b"ok")


async def test_get_extra_info_comes_from_the_scope() -> None:
    seen: dict[str, Any] = {}

    class Info(RequestHandler):
        def get(self) -> None:
            conn = _conn(self)
            for name in ("peername", "sockname", "ssl_object", "socket"):
                seen[name] = conn.get_extra_info(name)
            seen["fallback"] = conn.get_extra_info("socket", "none here")
            self.write("ok")

    client = _Client({"type": "http.request", "body": b"", "more_body": False})
    await ASGIAdapter(Application([(r"/", Info)]))(_scope(), client.receive, client.send)
    assert seen == {
        "peername": ("203.0.113.9", 51000),
        "sockname": ("127.0.0.1", 8000),
        "ssl_object": None,
        "socket": None,
        "fallback": "none here",
    }


async def test_max_body_size_property_follows_set_max_body_size() -> None:
    seen: list[int] = []

    @stream_request_body
    class Limits(RequestHandler):
        def prepare(self) -> None:
            conn = _conn(self)
            seen.append(conn.max_body_size)
            conn.set_max_body_size(10)
            seen.append(conn.max_body_size)

        def data_received(self, chunk: bytes) -> None:
            pass

        def post(self) -> None:
            self.write("ok")

    client = _Client({"type": "http.request", "body": b"x" * 11, "more_body": False})
    adapter = ASGIAdapter(Application([(r"/", Limits)]))
    await adapter(_scope(method="POST"), client.receive, client.send)
    assert seen == [100 * 1024 * 1024, 10]
    assert client.status == 400


async def test_close_abandons_the_response_and_runs_the_stream_callback() -> None:
    seen: dict[str, Any] = {}

    class Closer(RequestHandler):
        def get(self) -> None:
            conn = _conn(self)
            conn.stream.set_close_callback(lambda: seen.setdefault("callback", True))
            seen["before"] = conn.closed
            conn.close()
            seen["after"] = conn.closed and conn.stream.closed()

    client = _Client({"type": "http.request", "body": b"", "more_body": False})
    await ASGIAdapter(Application([(r"/", Closer)]))(_scope(), client.receive, client.send)
    assert seen == {"before": False, "callback": True, "after": True}
    assert not any(m["type"] == "http.response.start" for m in client.sent)
