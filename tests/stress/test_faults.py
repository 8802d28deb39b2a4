"""Faults: clients that vanish at every byte, handlers that raise at every stage.

After each scenario the server must have let go of everything: no request task left
(``asyncio.all_tasks``), no file descriptor (``/proc/self/fd``), no spooled upload
(temporary files, named or anonymous), and ``on_finish`` run exactly once for every
handler that was created — even when the client went away first (an improvement
over Tornado, where ``on_finish`` is skipped for a request that never finishes). The
server keeps serving throughout, and logs nothing at error level that the scenario
did not cause on purpose.

The full-disk scenarios live in ``test_faults_disk.py``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tornadish.web import Application, RequestHandler, StreamClosedError, stream_request_body

from tests.support.rawhttp import RawConn, request

pytestmark = pytest.mark.timeout_async(120)


class Book:
    """What the handlers did: created, finished, told of a closed connection."""

    def __init__(self) -> None:
        self.created = 0
        self.finished = Counter[int]()
        self.closed = 0

    def new(self, handler: Any) -> None:
        self.created += 1
        handler._book_id = self.created

    def finish(self, handler: Any) -> None:
        self.finished[handler._book_id] += 1

    async def all_finished(self, timeout: float = 20) -> None:
        """Every created handler ran on_finish once (waits for stragglers)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.finished) < self.created and loop.time() < deadline:
            await asyncio.sleep(0.02)
        assert len(self.finished) == self.created, (self.created, dict(self.finished))
        assert set(self.finished.values()) <= {1}, "on_finish ran twice"


def make_app(book: Book, **settings: Any) -> Application:
    class Base(RequestHandler):
        def initialize(self) -> None:
            book.new(self)

        def on_finish(self) -> None:
            book.finish(self)

        def on_connection_close(self) -> None:
            super().on_connection_close()
            book.closed += 1

    class Echo(Base):
        def post(self) -> None:
            self.write(self.request.body)

        def get(self) -> None:
            self.write("Hello")

    @stream_request_body
    class Stream(Base):
        def prepare(self) -> None:
            self.size = 0

        def data_received(self, chunk: bytes) -> None:
            self.size += len(chunk)

        def post(self) -> None:
            self.write(str(self.size))

    class Upload(Base):
        def post(self) -> None:
            self.write({k: [f.size for f in v] for k, v in self.request.files.items()})

    class Slow(Base):
        async def get(self) -> None:
            # A response in several pieces, so a client can leave in the middle.
            for i in range(5):
                self.write(b"%d" % i * 20)
                try:
                    await self.flush()
                except StreamClosedError:
                    return
                await asyncio.sleep(0.01)

    return Application(
        [(r"/", Echo), (r"/stream", Stream), (r"/upload", Upload), (r"/slow", Slow)],
        **settings,
    )


# -- leak accounting ------------------------------------------------------------------------


def open_fds() -> dict[str, str]:
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass  # the fd of the listdir itself
    return out


class Leaks:
    """A snapshot of tasks and descriptors; :meth:`check` waits for a return to it."""

    def __init__(self, tmp_dir: Path | None = None) -> None:
        self.tmp_dir = tmp_dir
        self.tasks = set(asyncio.all_tasks())
        self.fds = open_fds()

    async def check(self, timeout: float = 20) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            tasks = set(asyncio.all_tasks()) - self.tasks
            fds = {fd: t for fd, t in open_fds().items() if self.fds.get(fd) != t}
            leftovers = sorted(os.listdir(self.tmp_dir)) if self.tmp_dir else []
            if not tasks and not fds and not leftovers:
                return
            if loop.time() > deadline:
                raise AssertionError(f"leaked: tasks={tasks} fds={fds} files={leftovers}")
            await asyncio.sleep(0.05)


async def warm_up(port: int) -> None:
    # Anything created lazily on first use is made before the snapshot.
    async with httpx.AsyncClient() as client:
        r = await client.get(f"http://127.0.0.1:{port}/", headers={"Connection": "close"})
        assert r.status_code == 200


async def still_serves(port: int) -> None:
    conn = await RawConn.open(port)
    conn.send(request(headers={"Connection": "close"}))
    resp = await conn.response(timeout=10)
    assert resp.status == 200 and resp.body == b"Hello"
    conn.close()


async def whole_response(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    out = await reader.readuntil(b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 ")
    if b"Transfer-Encoding: chunked" in out:
        out += await reader.readuntil(b"0\r\n\r\n")
    else:
        length = int(out.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        out += await reader.readexactly(length)
    writer.close()
    return out


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    # The access log reports every 5xx at error level (as Tornado's does): not counted.
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name != "tornadish.access"
    ]


async def vanish(port: int, data: bytes, *, reset: bool, read: int = 0) -> None:
    """Connect, send ``data``, read ``read`` bytes of the answer, then go away: with a
    FIN, or with an RST (``reset``)."""
    sock = socket.socket()
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
        if data:
            await loop.sock_sendall(sock, data)
        got = 0
        while got < read:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, read - got), 10)
            if not chunk:
                break
            got += len(chunk)
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()


async def in_batches(coros: list[Callable[[], Awaitable[None]]], size: int = 64) -> None:
    for i in range(0, len(coros), size):
        await asyncio.gather(*(c() for c in coros[i : i + size]))


# -- clients that vanish mid-request -------------------------------------------------------

_MP = (
    b'--B\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n\r\n'
    + b"x" * 40
    + b"\r\n--B--\r\n"
)
REQUESTS = {
    "get": request("GET", "/"),
    "post-length": request("POST", "/", body=b"0123456789"),
    "post-chunked": request(
        "POST", "/", {"Transfer-Encoding": "chunked"}, body=b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    ),
    "stream": request(
        "POST", "/stream", {"Transfer-Encoding": "chunked"}, body=b"3\r\nabc\r\n0\r\n\r\n"
    ),
    "upload": request(
        "POST", "/upload", {"Content-Type": "multipart/form-data; boundary=B"}, body=_MP
    ),
}


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
@pytest.mark.parametrize("name", list(REQUESTS))
async def test_client_vanishing_at_every_byte_of_a_request(
    serve: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, reset: bool
) -> None:
    book = Book()
    # A spool threshold of 1 byte: an upload cut anywhere in its file part has a temp file.
    app = make_app(book, upload_spool_threshold=1, upload_tmp_dir=str(tmp_path))
    srv = await serve(app)
    await warm_up(srv.port)
    await book.all_finished()
    leaks = Leaks(tmp_path)
    data = REQUESTS[name]
    await in_batches(
        [
            (lambda i=i: vanish(srv.port, data[:i], reset=reset))  # type: ignore[misc]
            for i in range(len(data) + 1)
        ]
    )
    await leaks.check()
    await book.all_finished()
    await still_serves(srv.port)
    assert errors_logged(caplog) == []


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
@pytest.mark.parametrize("target", ["/", "/slow"])
async def test_client_vanishing_at_every_byte_of_a_response(
    serve: Any, caplog: pytest.LogCaptureFixture, target: str, reset: bool
) -> None:
    book = Book()
    srv = await serve(make_app(book))
    await warm_up(srv.port)
    data = request("GET", target)
    # The whole answer on a keep-alive connection, to know how many offsets there are.
    whole = await whole_response(srv.port, data)
    await book.all_finished()
    leaks = Leaks()
    await in_batches(
        [
            (lambda i=i: vanish(srv.port, data, reset=reset, read=i))  # type: ignore[misc]
            for i in range(len(whole) + 1)
        ]
    )
    await leaks.check()
    await book.all_finished()
    await still_serves(srv.port)
    assert errors_logged(caplog) == []


# -- handlers that raise at every stage ----------------------------------------------------


class Boom(Exception):
    pass


def raising_app(book: Book) -> Application:
    class Raiser(RequestHandler):
        def initialize(self) -> None:
            self.stage = self.request.path.rsplit("/", 1)[1]
            if self.stage == "initialize":
                raise Boom("initialize")
            book.new(self)

        def fail(self, stage: str) -> None:
            if self.stage == stage:
                raise Boom(stage)

        def prepare(self) -> Awaitable[None] | None:
            self.fail("prepare")
            if self.stage == "prepare-async":
                return self._raise_later("prepare-async")
            return None

        async def _raise_later(self, stage: str) -> None:
            await asyncio.sleep(0)
            raise Boom(stage)

        async def get(self, stage: str) -> None:
            self.fail("get")
            if self.stage == "get-async":
                await self._raise_later("get-async")
            if self.stage == "after-flush":
                self.write("partial")
                await self.flush()
                raise Boom("after-flush")
            if self.stage == "write_error":
                raise Boom("for write_error")
            if self.stage in ("on_connection_close", "parked"):
                self._auto_finish = False  # a long poll: wait for the client to leave
                return
            if self.stage == "cancelled":
                # A long poll awaiting a future that on_connection_close cancels.
                self.waiting = asyncio.get_running_loop().create_future()
                await self.waiting
            self.write("fine")

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            if self.stage == "write_error":
                self.write("half an error page")
                raise Boom("write_error")
            super().write_error(status_code, **kwargs)

        def on_finish(self) -> Awaitable[None] | None:
            book.finish(self)
            self.fail("on_finish")
            if self.stage == "on_finish-async":
                return self._raise_later("on_finish-async")
            return None

        def on_connection_close(self) -> None:
            book.closed += 1
            if self.stage == "cancelled":
                self.waiting.cancel()
            self.fail("on_connection_close")

    class Hello(RequestHandler):
        def get(self) -> None:
            self.write("Hello")

    return Application([(r"/", Hello), (r"/raise/([\w-]+)", Raiser)])


# stage -> (status the client gets, or None for a cut connection; errors logged)
STAGES: dict[str, tuple[int | None, list[str]]] = {
    "none": (200, []),
    "initialize": (500, ["Uncaught exception creating handler"]),
    "prepare": (500, ["Uncaught exception GET"]),
    "prepare-async": (500, ["Uncaught exception GET"]),
    "get": (500, ["Uncaught exception GET"]),
    "get-async": (500, ["Uncaught exception GET"]),
    "write_error": (500, ["Uncaught exception GET", "Uncaught exception in write_error"]),
    "on_finish": (200, ["Exception in on_finish"]),
    "on_finish-async": (200, ["Exception in on_finish"]),
    # As in Tornado, a response already under way is ended normally (logged).
    "after-flush": (200, ["Uncaught exception GET", "Cannot send error response"]),
    "on_connection_close": (None, ["Exception in connection close callback"]),
    "parked": (None, []),
    "cancelled": (None, []),
}


@pytest.mark.parametrize("stage", list(STAGES))
async def test_handler_raising_at_every_stage(
    serve: Any, caplog: pytest.LogCaptureFixture, stage: str
) -> None:
    book = Book()
    srv = await serve(raising_app(book))
    await warm_up(srv.port)
    leaks = Leaks()
    status, logged = STAGES[stage]
    conn = await RawConn.open(srv.port)
    conn.send(request("GET", f"/raise/{stage}"))
    if stage in ("on_connection_close", "parked", "cancelled"):
        await asyncio.sleep(0.1)  # the handler is waiting; now the client leaves
        conn.close()
    elif status is None:
        with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
            await conn.response(timeout=10)
        conn.close()
    else:
        resp = await conn.response(timeout=10)
        assert resp.status == status
        assert b"Traceback" not in resp.body and b"Boom" not in resp.body
        # The connection is still good for another request.
        conn.send(request(headers={"Connection": "close"}))
        assert (await conn.response(timeout=10)).body == b"Hello"
        conn.close()
    await leaks.check()
    await book.all_finished()
    await still_serves(srv.port)
    errors = errors_logged(caplog)
    for fragment in logged:
        assert any(fragment in e for e in errors), (fragment, errors)
    assert len(errors) == len(logged), errors
