"""A streamed request body that never completes (413, or the client leaving) ends the
request quietly: no 500, no "Uncaught exception" log, and ``on_finish`` still runs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tornadish.web import Application, RequestHandler, stream_request_body


@stream_request_body
class Sink(RequestHandler):
    def initialize(self, events: list[str]) -> None:  # type: ignore[override]
        self.events = events

    def prepare(self) -> None:
        assert self.request.connection is not None
        self.request.connection.set_max_body_size(1000)
        self.events.append("prepare")

    def data_received(self, chunk: bytes) -> None:
        self.events.append("data")

    def put(self) -> None:
        self.events.append("put")
        self.write("stored")

    def on_finish(self) -> None:
        self.events.append("finish")


async def _until(predicate: Any) -> None:
    async with asyncio.timeout(5):
        while not predicate():
            await asyncio.sleep(0.005)


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_gets_413_and_no_error_log(
    serve: Any, caplog: pytest.LogCaptureFixture, declared: bool
) -> None:
    events: list[str] = []
    srv = await serve(Application([(r"/", Sink, {"events": events})]))
    if declared:
        request = b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000
    else:
        chunk = b"x" * 600
        request = (
            b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (b"258\r\n" + chunk + b"\r\n") * 3
            + b"0\r\n\r\n"
        )
    response = await srv.raw(request)
    assert response.startswith(b"HTTP/1.1 413 ")
    await _until(lambda: "finish" in events)
    assert "put" not in events
    assert _errors(caplog) == []


async def test_a_client_leaving_mid_body_runs_on_finish_quietly(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []
    srv = await serve(Application([(r"/", Sink, {"events": events})]))
    _reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n" + b"x" * 100)
    await writer.drain()
    await _until(lambda: "data" in events)
    writer.close()
    await _until(lambda: "finish" in events)
    assert "put" not in events
    assert _errors(caplog) == []
