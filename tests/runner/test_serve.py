"""Embedding in a loop the user owns (``tornadish.serve``, ``app.listen`` in a running
loop, context variables) and graceful shutdown (``HTTPServer.shutdown``), over real
sockets."""

from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Any

import httpx
import pytest

import tornadish
from tornadish.web import Application, RequestHandler

from tests.support.rawhttp import RawConn, request

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class Hello(RequestHandler):
    def get(self) -> None:
        self.write("Hello")


class Gate(RequestHandler):
    """Answers once the test opens the gate (a request in progress at shutdown)."""

    def initialize(self, gate: asyncio.Event, entered: asyncio.Event) -> None:
        self.gate = gate
        self.entered = entered

    async def get(self) -> None:
        self.entered.set()
        await self.gate.wait()
        self.write("finished")


class ContextHandler(RequestHandler):
    async def prepare(self) -> None:
        request_id.set(self.get_argument("id"))

    async def get(self) -> None:
        async def child() -> str:
            await asyncio.sleep(0)
            return request_id.get()

        seen = await asyncio.get_running_loop().create_task(child())
        self.write({"handler": request_id.get(), "task": seen})


def gate_app() -> tuple[Application, asyncio.Event, asyncio.Event]:
    gate, entered = asyncio.Event(), asyncio.Event()
    app = Application([(r"/", Hello), (r"/gate", Gate, {"gate": gate, "entered": entered})])
    return app, gate, entered


async def _refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


async def test_serve_beside_another_asyncio_server_and_tasks() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    other = await asyncio.start_server(echo, "127.0.0.1", 0)
    other_port = other.sockets[0].getsockname()[1]
    tick_task = asyncio.create_task(ticker())
    try:
        async with tornadish.serve(Application([(r"/", Hello)]), port=0) as server:
            port = server.port
            assert port
            async with httpx.AsyncClient() as client:
                r = await client.get(f"http://127.0.0.1:{port}/")
            assert (r.status_code, r.text) == (200, "Hello")
            reader, writer = await asyncio.open_connection("127.0.0.1", other_port)
            writer.write(b"ping\n")
            assert await reader.readline() == b"ping\n"
            writer.close()
        assert await _refused(port)
        assert ticks > 0 and not tick_task.done()
    finally:
        tick_task.cancel()
        other.close()
        await other.wait_closed()


async def test_serve_shuts_down_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with tornadish.serve(Application([(r"/", Hello)])) as server:
            port = server.port
            assert port is not None
            raise RuntimeError("boom")
    assert await _refused(port)  # type: ignore[arg-type]  # narrowed inside the block


async def test_app_listen_inside_running_loop() -> None:
    server = Application([(r"/", Hello)]).listen(0, "127.0.0.1")
    try:
        await server.wait_started()
        assert server.port
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{server.port}/")
        assert r.text == "Hello"
    finally:
        await server.shutdown(1)


async def test_contextvar_set_in_async_prepare_reaches_spawned_tasks() -> None:
    app = Application([(r"/ctx", ContextHandler)])
    async with tornadish.serve(app) as server, httpx.AsyncClient() as client:
        replies = await asyncio.gather(
            *(client.get(f"http://127.0.0.1:{server.port}/ctx?id=r{i}") for i in range(3))
        )
    assert [r.json() for r in replies] == [{"handler": f"r{i}", "task": f"r{i}"} for i in range(3)]
    assert request_id.get() == "-"  # nothing leaked into the test's own context


async def test_shutdown_closes_idle_at_once_and_lets_in_flight_finish() -> None:
    app, gate, entered = gate_app()
    hooks: list[str] = []
    async with tornadish.serve(app) as server:
        port = server.port
        assert port is not None

        async def hook() -> None:
            hooks.append("closed" if not server.connections else "open connections!")

        server.add_shutdown_hook(hook)
        idle = await RawConn.open(port)
        idle.send(request("GET", "/"))
        assert (await idle.response()).body == b"Hello"
        busy = await RawConn.open(port)
        busy.send(request("GET", "/gate"))
        await entered.wait()

        shutting = asyncio.create_task(server.shutdown(grace=5))
        assert await idle.is_closed(1.0)
        assert await _refused(port)
        assert not shutting.done()
        gate.set()
        answer = await busy.response()
        assert (answer.status, answer.body) == (200, b"finished")
        assert answer.header("Connection") == "close"
        assert await busy.is_closed(1.0)
        await asyncio.wait_for(shutting, 2)
        assert hooks == ["closed"]


async def test_shutdown_force_closes_after_grace() -> None:
    app, _gate, entered = gate_app()
    server = app.listen(0, "127.0.0.1")
    await server.wait_started()
    assert server.port is not None
    stuck = await RawConn.open(server.port)
    stuck.send(request("GET", "/gate"))
    await entered.wait()
    started = time.monotonic()
    await asyncio.wait_for(server.shutdown(grace=0.2), 3)
    assert 0.15 < time.monotonic() - started < 2
    assert await stuck.read_until_eof(1.0) == b""
    assert not server.connections


async def test_shutdown_hook_errors_are_logged_and_later_hooks_run(caplog: Any) -> None:
    ran: list[int] = []

    def bad() -> None:
        raise ValueError("hook failed")

    async with tornadish.serve(Application([(r"/", Hello)])) as server:
        server.add_shutdown_hook(bad)
        server.add_shutdown_hook(lambda: ran.append(1))
    assert ran == [1]
    assert "hook failed" in caplog.text
