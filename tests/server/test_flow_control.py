"""Flow control over real sockets: writes wait for a slow reader, and a client that never
reads is neither answered without limit nor held for ever."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from tornadish.web import Application, RequestHandler

from tests.support.rawhttp import RawConn, capture_general, request


async def test_flush_waits_for_slow_reader(serve, loop_factory) -> None:
    chunk = b"f" * 65536
    n = 64
    state: dict[str, Any] = {"written": 0, "max_buffer": 0, "done": False}

    class Big(RequestHandler):
        async def get(self) -> None:
            transport = self.request.connection.transport  # type: ignore[union-attr]
            transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 16384
            )
            for _ in range(n):
                self.write(chunk)
                await self.flush()
                state["written"] += 1
                state["max_buffer"] = max(state["max_buffer"], transport.get_write_buffer_size())
            state["done"] = True

    srv = await serve(Application([(r"/big", Big)]), write_buffer_limits=(131072, 32768))
    conn = await RawConn.open(srv.port, rcvbuf=4096)
    conn.send(request("GET", "/big"))
    await asyncio.sleep(0.3)
    stalled = state["written"]
    assert stalled < n // 2, stalled
    assert not state["done"]
    assert state["max_buffer"] <= 131072 + len(chunk) + 64
    await asyncio.sleep(0.1)
    assert state["written"] == stalled  # really waiting, not crawling on
    resp = await conn.response(timeout=10)
    assert len(resp.body) == n * len(chunk) and set(resp.body) == {ord("f")}
    assert state["done"]
    assert state["max_buffer"] <= 131072 + len(chunk) + 64
    conn.close()


# -- a client that does not read a response written whole --------------------------------
#
# Found by the stress suite (tests/stress, "never-reads" attacker): a handler that writes a
# large response in one go finishes at once, so the connection went back to idle with the
# answer still buffered. Two things went wrong from there:
# - pipelined requests kept being answered into the same full buffer (memory grew by one
#   response per pipelined request: 8 requests for 1 MiB held ~6 MiB per connection);
# - the blocked-write deadline was replaced by the idle one, whose plain ``close()`` waits
#   for the buffer to drain, which never happens: the connection was held forever.


BIG = 4 * 1024 * 1024


def big_app(handled: list[int]) -> Application:
    class Big(RequestHandler):
        def get(self) -> None:
            handled.append(1)
            # The whole answer at once, no flush: the handler is done before the peer reads.
            self.write(b"b" * BIG)

    return Application([(r"/big", Big)])


async def wait_no_connections(srv: object, seconds: float) -> bool:
    for _ in range(int(seconds * 20)):
        if not srv.server.connections:  # type: ignore[attr-defined]
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.timeout_async(30)
async def test_pipelined_requests_wait_while_the_client_is_not_reading(serve, loop_factory) -> None:
    handled: list[int] = []
    srv = await serve(big_app(handled))
    conn = await RawConn.open(srv.port, rcvbuf=4096)
    # All eight in one packet: the server reads them together with the first.
    conn.send(request("GET", "/big") * 8)
    await asyncio.sleep(0.5)
    # The first answer (4 MiB) is far above the 64 KiB high-water mark: no more answers
    # are produced until the client reads some of it.
    assert len(handled) <= 2, handled
    # Once the client reads, every pipelined request is answered, in full.
    for _ in range(8):
        resp = await conn.response(timeout=20)
        assert resp.status == 200 and len(resp.body) == BIG
    assert len(handled) == 8
    conn.close()


@pytest.mark.timeout_async(30)
async def test_finished_response_never_read_is_dropped_after_idle_timeout(
    serve, caplog, loop_factory
) -> None:
    capture_general(caplog)
    handled: list[int] = []
    srv = await serve(big_app(handled), idle_connection_timeout=0.3)
    conn = await RawConn.open(srv.port, rcvbuf=4096)
    conn.send(request("GET", "/big"))
    await asyncio.sleep(0.1)
    assert handled == [1]
    # Nothing is ever read: the server must let go of the connection on its own.
    assert await wait_no_connections(srv, 10), "connection held by a client that never reads"
    assert any("not reading" in r.getMessage() for r in caplog.records)
    conn.close()


@pytest.mark.timeout_async(30)
async def test_idle_close_with_unsent_output_is_aborted_eventually(serve, loop_factory) -> None:
    # With a high-water mark above the response size, writing never "pauses": the
    # connection goes idle with output still queued, and the idle close must not wait
    # forever for a peer that never reads it.
    handled: list[int] = []
    srv = await serve(
        big_app(handled),
        idle_connection_timeout=0.3,
        write_buffer_limits=(64 * 1024 * 1024, 32 * 1024 * 1024),
    )
    conn = await RawConn.open(srv.port, rcvbuf=4096)
    conn.send(request("GET", "/big"))
    await asyncio.sleep(0.1)
    assert handled == [1]
    assert await wait_no_connections(srv, 10), "idle close waited forever for the flush"
    conn.close()
