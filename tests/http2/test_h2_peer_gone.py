"""A client that leaves with requests in flight, by GOAWAY (h2load does so at the end
of every timed run) or by resetting its streams: the handlers finish (``on_finish``
runs), their answers are dropped, and nothing is logged as an error."""

from __future__ import annotations

import asyncio
import logging

import h2.errors
import pytest

from tornadish.web import Application, RequestHandler

from tests.http2.h2client import H2Client

FINISHED: list[str] = []


class Slow(RequestHandler):
    """Answers after ``t`` seconds; ``flush=1`` sends its head first."""

    async def get(self) -> None:
        if self.get_argument("flush", None):
            self.write("head ")
            await self.flush()
        await asyncio.sleep(float(self.get_argument("t")))
        self.write(self.get_argument("n"))

    def on_finish(self) -> None:
        FINISHED.append(self.get_argument("n"))


def make_app() -> Application:
    return Application([(r"/slow", Slow)])


async def two_in_flight(client: H2Client) -> tuple[int, int]:
    """Two requests being handled: one that has not answered yet, one whose head
    went."""
    FINISHED.clear()
    first = client.start("GET", "/slow?t=0.2&n=a")
    second = client.start("GET", "/slow?t=0.2&n=b&flush=1")
    await asyncio.sleep(0.05)
    return first, second


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_goaway_with_requests_in_flight_drops_their_answers_quietly(
    serve, caplog: pytest.LogCaptureFixture
) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        await two_in_flight(client)
        client.conn.close_connection()  # GOAWAY NO_ERROR, as h2load sends
        client.flush()
        await asyncio.sleep(0.4)
        assert sorted(FINISHED) == ["a", "b"]
        assert errors(caplog) == []
        await asyncio.wait_for(asyncio.shield(client.closed), 5)  # and the server closed
    finally:
        await client.close()
    other = await H2Client.connect(srv.port)
    try:
        assert (await other.request("GET", "/slow?t=0&n=c")).body == b"c"
    finally:
        await other.close()


async def test_a_reset_stream_drops_its_answer_quietly(
    serve, caplog: pytest.LogCaptureFixture
) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        first, second = await two_in_flight(client)
        client.conn.reset_stream(first, h2.errors.ErrorCodes.CANCEL)
        client.conn.reset_stream(second, h2.errors.ErrorCodes.CANCEL)
        client.flush()
        await asyncio.sleep(0.4)
        assert sorted(FINISHED) == ["a", "b"]
        assert errors(caplog) == []
        r = await client.request("GET", "/slow?t=0&n=c")  # the connection carries on
        assert r.body == b"c"
    finally:
        await client.close()
