"""Server-sent events (``tornadish.sse``) over real sockets: the wire format as a browser
parses it, heartbeats, resuming after ``Last-Event-ID``, no compression, a client that
leaves, a client that stops reading, a graceful shutdown; and ``EventLog`` on its own."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import AsyncGenerator
from typing import Any, cast

import httpx
import pytest

from tornadish.httpclient import AsyncHTTPClient
from tornadish.iostream import StreamClosedError
from tornadish.sse import Event, EventLog, EventSourceHandler, encode_event
from tornadish.web import Application, RequestHandler

from tests.support.eventstream import EventStreamClient, parse_event_stream


def ids(parsed: Any) -> list[int]:
    return [int(e.last_event_id) for e in parsed.events]


# -- the wire format ----------------------------------------------------------------------


class Varied(EventSourceHandler):
    async def stream(self) -> None:
        await self.send("plain")
        await self.send("one\ntwo\r\nthree\rfour")  # every kind of line break
        await self.send(" leading space\n\ntrailing blank line\n")
        await self.send("typed", event="greeting", id=7)
        await self.send("with retry", retry=2500)
        await self.send({"n": 1, "text": "a\nb", "html": "</script>"}, event="json", id="8")
        await self.send(["x", 2])
        await self.send("naïve ☃".encode())
        await self.send(None, id=9)  # sets the id, dispatches nothing


async def test_events_arrive_in_order_in_the_wire_format(serve, loop_factory) -> None:
    srv = await serve(Application([(r"/events", Varied)]))
    client = await EventStreamClient.open(srv.port, "/events")
    try:
        assert client.status == 200
        assert client.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert client.headers["cache-control"] == "no-store"
        assert client.headers["x-accel-buffering"] == "no"
        assert client.headers["transfer-encoding"] == "chunked"
        parsed = await client.read_to_end()
    finally:
        client.close()
    assert client.body == (
        b"data: plain\n\n"
        b"data: one\ndata: two\ndata: three\ndata: four\n\n"
        b"data:  leading space\ndata: \ndata: trailing blank line\ndata: \n\n"
        b"id: 7\nevent: greeting\ndata: typed\n\n"
        b"retry: 2500\ndata: with retry\n\n"
        b'id: 8\nevent: json\ndata: {"n": 1, "text": "a\\nb", "html": "<\\/script>"}\n\n'
        b'data: ["x", 2]\n\n'
        b"data: na\xc3\xafve \xe2\x98\x83\n\n"
        b"id: 9\n\n"
    )
    # What a browser makes of it: the lines joined with LF, each event in order.
    assert [(e.type, e.data, e.last_event_id) for e in parsed.events] == [
        ("message", "plain", ""),
        ("message", "one\ntwo\nthree\nfour", ""),
        ("message", " leading space\n\ntrailing blank line\n", ""),
        ("greeting", "typed", "7"),
        ("message", "with retry", "7"),
        ("json", '{"n": 1, "text": "a\\nb", "html": "<\\/script>"}', "8"),
        ("message", '["x", 2]', "8"),
        ("message", "naïve ☃", "8"),
    ]
    assert json.loads(parsed.events[5].data)["html"] == "</script>"
    assert parsed.retry == [2500]


def test_encode_event_refuses_fields_that_would_break_the_stream() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        encode_event("x", event="a\nb")
    with pytest.raises(ValueError, match="CR or LF"):
        encode_event("x", event="a\rb")
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        encode_event("x", id="1\r\n")
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        encode_event("x", id="1\x002")
    for bad in (-1, 1.5, "10", True):
        with pytest.raises(ValueError, match="retry"):
            encode_event("x", retry=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_event(3)  # type: ignore[arg-type]
    assert encode_event("", retry=0) == b"retry: 0\ndata: \n\n"


class Validating(EventSourceHandler):
    errors: list[str] = []

    async def stream(self) -> None:
        bad: list[dict[str, Any]] = [{"event": "bad\nevent"}, {"id": "bad\rid"}, {"id": "nul\x00"}]
        for kwargs in bad:
            try:
                await self.send("smuggled\n\ndata: injected", **kwargs)
            except ValueError as e:
                self.errors.append(str(e))
        await self.send("ok", event="fine")


async def test_bad_event_or_id_raise_and_send_nothing(serve) -> None:
    Validating.errors = []
    srv = await serve(Application([(r"/", Validating)]))
    client = await EventStreamClient.open(srv.port)
    try:
        parsed = await client.read_to_end()
    finally:
        client.close()
    assert len(Validating.errors) == 3
    assert [(e.type, e.data) for e in parsed.events] == [("fine", "ok")]
    assert b"smuggled" not in client.body


# -- timing: the head at once, heartbeats while idle --------------------------------------


class Gated(EventSourceHandler):
    heartbeat_interval = 0.1
    go: asyncio.Event
    busy_for = 0.4

    async def stream(self) -> None:
        await self.go.wait()
        # Busy: an event every 30 ms, so no heartbeat is due...
        loop = asyncio.get_running_loop()
        end = loop.time() + self.busy_for
        n = 0
        while loop.time() < end:
            await self.send(f"busy {n}")
            n += 1
            await asyncio.sleep(0.03)
        await self.send("now idle")
        await asyncio.Event().wait()  # ...then silent until the client leaves


async def test_head_at_once_then_heartbeats_only_while_silent(serve, loop_factory) -> None:
    Gated.go = asyncio.Event()
    srv = await serve(Application([(r"/", Gated)]))
    client = await EventStreamClient.open(srv.port, read_head=False)
    try:
        # The head arrives while stream() has not sent anything yet.
        await client.read_head(timeout=2)
        assert client.status == 200
        # Silent from the start: heartbeats come, each a comment line.
        parsed = await client.read_until(lambda p: len(p.comments) >= 2, timeout=2)
        assert parsed.events == []
        assert client.body == b":\n\n:\n\n"
        Gated.go.set()
        parsed = await client.read_until(lambda p: any(e.data == "now idle" for e in p.events))
        busy = client.body[client.body.index(b"data: busy 0") :]
        assert b":\n\n" not in busy, "a heartbeat while events were flowing"
        before = len(parsed.comments)
        parsed = await client.read_until(lambda p: len(p.comments) >= before + 3, timeout=2)
        assert client.body.endswith(b"data: now idle\n\n:\n\n:\n\n:\n\n")
    finally:
        client.close()


# -- resuming after Last-Event-ID ---------------------------------------------------------


class Feed(EventSourceHandler):
    log: EventLog

    async def stream(self) -> None:
        async for ev in self.log.follow(self.last_event_id):
            await self.send(ev.data, event=ev.event, id=ev.id)


@pytest.mark.parametrize(
    ("target", "headers"),
    [("/feed", {"Last-Event-ID": "41"}), ("/feed?lastEventId=41", {})],
    ids=["header", "query"],
)
async def test_resume_after_last_event_id_starts_at_the_next_event(
    serve, loop_factory, target: str, headers: dict[str, str]
) -> None:
    log = EventLog(maxlen=100)
    for n in range(1, 51):
        log.append(f"event {n}", event="tick")
    Feed.log = log
    srv = await serve(Application([(r"/feed", Feed)]))
    client = await EventStreamClient.open(srv.port, target, headers)
    try:
        parsed = await client.read_until(lambda p: len(p.events) >= 9)
        assert ids(parsed) == list(range(42, 51))
        assert [e.data for e in parsed.events] == [f"event {n}" for n in range(42, 51)]
        assert {e.type for e in parsed.events} == {"tick"}
        # Then live: a new event arrives as it is appended.
        log.append({"live": True})
        parsed = await client.read_until(lambda p: len(p.events) >= 10)
        assert (parsed.events[-1].last_event_id, parsed.events[-1].data) == ("51", '{"live": true}')
    finally:
        client.close()


async def test_the_header_wins_over_the_query_argument(serve) -> None:
    log = EventLog()
    for n in range(1, 6):
        log.append(str(n))
    Feed.log = log
    srv = await serve(Application([(r"/feed", Feed)]))
    client = await EventStreamClient.open(srv.port, "/feed?lastEventId=1", {"Last-Event-ID": "3"})
    try:
        parsed = await client.read_until(lambda p: len(p.events) >= 2)
        assert ids(parsed) == [4, 5]
    finally:
        client.close()


# -- EventLog on its own ------------------------------------------------------------------


def test_event_log_ids_grow_and_the_oldest_fall_out() -> None:
    log = EventLog(maxlen=3)
    assert (log.last_id, len(log), log.since(None)) == (0, 0, [])
    for n in range(1, 6):
        assert log.append(f"e{n}").id == n
    assert (log.last_id, len(log), log.maxlen) == (5, 3, 3)
    assert [e.id for e in log.since(None)] == [3, 4, 5]
    assert [e.id for e in log.since("3")] == [4, 5]
    assert [e.id for e in log.since(4)] == [5]
    assert log.since(5) == []
    # Unknown ids resume from the oldest kept event: too old, not a number, too new
    # (a log from before a restart), absurdly long.
    for unknown in ("1", 0, "abc", "", " ", "-2", "99", "9" * 5000):
        assert [e.id for e in log.since(unknown)] == [3, 4, 5], unknown
    # Caller-given ids must grow; gaps are fine.
    assert log.append("x", id=10, event="jump") == (10, "jump", "x")
    assert [e.id for e in log.since(7)] == [10]
    for bad in (10, 3, True):
        with pytest.raises(ValueError, match="grow"):
            log.append("y", id=bad)
    with pytest.raises(ValueError, match="CR or LF"):
        log.append("y", event="a\nb")
    assert log.last_id == 10


async def test_event_log_many_followers_share_it_without_queues() -> None:
    log = EventLog(maxlen=10)
    log.append("before")
    received: list[list[Any]] = [[] for _ in range(200)]

    async def follower(into: list[Any], after: int | None) -> None:
        async for ev in log.follow(after):
            into.append(ev.data)

    tasks = [
        asyncio.ensure_future(follower(into, None if i % 2 else log.last_id))
        for i, into in enumerate(received)
    ]
    await asyncio.sleep(0.01)
    assert len(log._waiters) == 200  # one future per waiting follower, nothing queued
    for n in range(3):
        log.append(f"after {n}")
    await asyncio.sleep(0.01)
    for i, into in enumerate(received):
        expected = ["after 0", "after 1", "after 2"]
        assert into == (["before", *expected] if i % 2 else expected)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert len(log._waiters) == 0  # cancelled followers leave nothing behind
    log.append("nobody listens")


async def test_a_follower_slower_than_the_log_skips_what_fell_out() -> None:
    log = EventLog(maxlen=3)
    log.append("e1")
    follow = cast(AsyncGenerator[Event, None], log.follow(None))
    assert (await follow.__anext__()).id == 1
    for n in range(2, 10):
        log.append(f"e{n}")  # the follower reads nothing meanwhile
    assert [(await follow.__anext__()).id for _ in range(3)] == [7, 8, 9]
    await follow.aclose()


# -- no compression -----------------------------------------------------------------------


class BigEvents(EventSourceHandler):
    async def stream(self) -> None:
        for n in range(3):
            await self.send(f"{n} " + "compressible text " * 200)


class Text(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain")
        self.write("compressible text " * 200)


async def test_never_compressed_even_with_compress_response(serve) -> None:
    srv = await serve(
        Application([(r"/events", BigEvents), (r"/text", Text)], compress_response=True)
    )
    gz = {"Accept-Encoding": "gzip"}
    async with httpx.AsyncClient() as http:
        plain = await http.get(srv.base_url + "/text", headers=gz)
    assert plain.headers["content-encoding"] == "gzip"  # the setting is on
    client = await EventStreamClient.open(srv.port, "/events", gz)
    try:
        parsed = await client.read_to_end()
    finally:
        client.close()
    assert "content-encoding" not in client.headers
    assert "vary" not in client.headers
    assert client.body.startswith(b"data: 0 compressible text")
    with pytest.raises(OSError):
        gzip.decompress(client.body)
    assert [e.data[:2] for e in parsed.events] == ["0 ", "1 ", "2 "]


# -- a client that leaves -----------------------------------------------------------------


class Watched(EventSourceHandler):
    heartbeat_interval = None
    outcome: dict[str, float]
    started: asyncio.Event

    async def stream(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self.send("hello")
            self.started.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.outcome["cancelled"] = loop.time()
            raise
        finally:
            self.outcome["finally"] = loop.time()

    def on_finish(self) -> None:
        self.outcome["on_finish"] = asyncio.get_running_loop().time()


async def test_a_client_that_leaves_ends_stream_and_runs_on_finish(serve, loop_factory) -> None:
    Watched.outcome = {}
    Watched.started = asyncio.Event()
    srv = await serve(Application([(r"/", Watched)]))
    client = await EventStreamClient.open(srv.port)
    await client.read_until(lambda p: len(p.events) == 1)
    await Watched.started.wait()
    loop = asyncio.get_running_loop()
    left = loop.time()
    client.close()
    while "on_finish" not in Watched.outcome and loop.time() - left < 2:
        await asyncio.sleep(0.005)
    outcome = Watched.outcome
    assert set(outcome) == {"cancelled", "finally", "on_finish"}
    assert outcome["cancelled"] <= outcome["finally"] <= outcome["on_finish"]
    assert outcome["on_finish"] - left < 1.0
    await asyncio.sleep(0.05)
    assert not srv.server._connections  # and the connection is gone


class SendsAfterLeaving(EventSourceHandler):
    heartbeat_interval = None
    raised: list[BaseException] = []

    async def stream(self) -> None:
        try:
            await self.send("hello")
            await asyncio.Event().wait()
        finally:
            try:
                await self.send("too late")
            except StreamClosedError as e:
                self.raised.append(e)


async def test_send_after_the_client_left_raises_stream_closed(serve) -> None:
    SendsAfterLeaving.raised = []
    srv = await serve(Application([(r"/", SendsAfterLeaving)]))
    client = await EventStreamClient.open(srv.port)
    await client.read_until(lambda p: len(p.events) == 1)
    client.close()
    for _ in range(200):
        if SendsAfterLeaving.raised:
            break
        await asyncio.sleep(0.005)
    assert len(SendsAfterLeaving.raised) == 1


# -- a client that stops reading ----------------------------------------------------------

EVENT_SIZE = 64 * 1024


class Firehose(EventSourceHandler):
    heartbeat_interval = None
    send_timeout = 0.5
    max_queue = 4
    report: dict[str, Any]

    async def stream(self) -> None:
        report = self.report
        transport = getattr(self.request.connection, "transport", None)
        payload = "x" * EVENT_SIZE
        try:
            while True:
                await self.send(payload)
                report["sent"] += 1
                report["peak_queue"] = max(report["peak_queue"], self.queued)
                if transport is not None:
                    size = transport.get_write_buffer_size()
                    report["peak_buffer"] = max(report["peak_buffer"], size)
        except asyncio.CancelledError:
            report["cancelled"] = asyncio.get_running_loop().time()
            raise

    def on_finish(self) -> None:
        self.report["on_finish"] = asyncio.get_running_loop().time()


@pytest.mark.timeout_async(20)
async def test_a_client_that_stops_reading_is_dropped_with_bounded_memory(
    serve, loop_factory, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="tornadish.general")
    Firehose.report = report = {"sent": 0, "peak_queue": 0, "peak_buffer": 0}
    srv = await serve(Application([(r"/", Firehose)]))
    loop = asyncio.get_running_loop()
    client = await EventStreamClient.open(srv.port, rcvbuf=4096, read_head=False)
    start = loop.time()
    try:
        while "on_finish" not in report and loop.time() - start < 10:
            await asyncio.sleep(0.02)
        assert "cancelled" in report, report
        assert "on_finish" in report, report
        # Dropped after send_timeout (once the buffers were full), not at once, not never.
        assert 0.5 <= report["cancelled"] - start < 5, report
        # send() waited at max_queue rather than letting the queue grow.
        assert report["peak_queue"] == Firehose.max_queue, report
        # The transport never held more than its high-water mark plus one batch.
        assert report["peak_buffer"] <= 64 * 1024 + (Firehose.max_queue + 1) * (EVENT_SIZE + 64)
        # What the server accepted is what the kernel buffers hold and the queue, not the
        # endless stream the handler tried to send.
        assert report["sent"] * EVENT_SIZE < 16 * 1024 * 1024, report
        # Aborted, not closed politely: the unread output is not kept for the client.
        for _ in range(100):
            if not srv.server._connections:
                break
            await asyncio.sleep(0.01)
        assert not srv.server._connections
        assert any("dropped" in r.getMessage() for r in caplog.records)
    finally:
        client.close()


# -- how a stream ends --------------------------------------------------------------------


class Failing(EventSourceHandler):
    async def stream(self) -> None:
        await self.send("before")
        raise RuntimeError("boom")


async def test_an_error_in_stream_is_logged_and_ends_the_response(serve, caplog) -> None:
    srv = await serve(Application([(r"/", Failing)]))
    with caplog.at_level(logging.ERROR, logger="tornadish.application"):
        client = await EventStreamClient.open(srv.port)
        try:
            parsed = await client.read_to_end()
        finally:
            client.close()
    assert [e.data for e in parsed.events] == ["before"]
    assert any("boom" in (r.exc_text or "") or r.exc_info for r in caplog.records)


class PathArgs(EventSourceHandler):
    async def stream(self, room: str) -> None:
        await self.send(f"room {room}", id=1)


async def test_path_groups_reach_stream(serve) -> None:
    srv = await serve(Application([(r"/rooms/(\w+)", PathArgs)]))
    client = await EventStreamClient.open(srv.port, "/rooms/lobby")
    try:
        parsed = await client.read_to_end()
    finally:
        client.close()
    assert [e.data for e in parsed.events] == ["room lobby"]


class NotAsync(EventSourceHandler):
    def stream(self) -> None:  # type: ignore[override]
        pass


async def test_a_stream_that_is_not_async_is_a_500_before_anything_is_sent(serve) -> None:
    srv = await serve(Application([(r"/", NotAsync)]))
    async with httpx.AsyncClient() as http:
        r = await http.get(srv.base_url + "/")
    assert r.status_code == 500
    assert "event-stream" not in r.headers.get("content-type", "")


# -- graceful shutdown --------------------------------------------------------------------


class ShutdownSignalled(EventSourceHandler):
    """Stands in for ``RequestHandler.shutting_down`` with a future the test controls
    (each read a shield of it, as the real one is)."""

    heartbeat_interval = None
    shutdown_retry = 1500
    signal: asyncio.Future[None]
    outcome: list[str]

    @property
    def shutting_down(self) -> asyncio.Future[None]:
        return asyncio.shield(self.signal)

    async def stream(self) -> None:
        try:
            await self.send("working", id=1)
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.outcome.append("cancelled")
            raise
        finally:
            self.outcome.append("finally")

    def on_finish(self) -> None:
        self.outcome.append("on_finish")


async def test_a_shutdown_signal_ends_the_stream_after_a_retry_hint(serve, loop_factory) -> None:
    ShutdownSignalled.signal = asyncio.get_running_loop().create_future()
    ShutdownSignalled.outcome = []
    srv = await serve(Application([(r"/", ShutdownSignalled)]))
    client = await EventStreamClient.open(srv.port)
    try:
        await client.read_until(lambda p: len(p.events) == 1)
        ShutdownSignalled.signal.set_result(None)
        parsed = await client.read_to_end(timeout=2)
    finally:
        client.close()
    assert client.body == b"id: 1\ndata: working\n\nretry: 1500\n\n"
    assert parsed.retry == [1500]
    assert ShutdownSignalled.outcome == ["cancelled", "finally", "on_finish"]
    # The request's own future was listened to through a shield, not cancelled.
    assert not ShutdownSignalled.signal.cancelled()


async def test_a_stream_opened_during_shutdown_ends_at_once_with_the_hint(serve) -> None:
    ShutdownSignalled.signal = asyncio.get_running_loop().create_future()
    ShutdownSignalled.signal.set_result(None)
    ShutdownSignalled.outcome = []
    srv = await serve(Application([(r"/", ShutdownSignalled)]))
    client = await EventStreamClient.open(srv.port)
    try:
        parsed = await client.read_to_end(timeout=2)
    finally:
        client.close()
    assert parsed.retry == [1500]
    assert client.body.endswith(b"retry: 1500\n\n")


class Endless(EventSourceHandler):
    heartbeat_interval = None
    outcome: list[str] = []

    async def stream(self) -> None:
        try:
            await self.send("working")
            await asyncio.Event().wait()
        finally:
            self.outcome.append("finally")

    def on_finish(self) -> None:
        self.outcome.append("on_finish")


@pytest.mark.skipif(
    not hasattr(RequestHandler, "shutting_down"),
    reason="RequestHandler.shutting_down (graceful drain, issue 17) is not there yet",
)
async def test_server_shutdown_ends_open_streams_with_a_retry_hint(serve) -> None:
    Endless.outcome = []
    srv = await serve(Application([(r"/", Endless)]))
    clients = [await EventStreamClient.open(srv.port) for _ in range(3)]
    try:
        for c in clients:
            await c.read_until(lambda p: len(p.events) == 1)
        loop = asyncio.get_running_loop()
        start = loop.time()
        shutdown = asyncio.ensure_future(srv.server.shutdown(grace=10))
        for c in clients:
            parsed = await c.read_to_end(timeout=3)
            assert parsed.retry == [Endless.shutdown_retry]
            assert await c.conn.is_closed()
        await asyncio.wait_for(shutdown, 5)
        assert loop.time() - start < 3  # the streams ended; grace did not run out
    finally:
        for c in clients:
            c.close()
    assert Endless.outcome.count("finally") == Endless.outcome.count("on_finish") == 3


# -- real clients -------------------------------------------------------------------------


class Counter(EventSourceHandler):
    async def stream(self) -> None:
        for n in range(5):
            await self.send({"n": n}, event="count", id=n + 1)
            await asyncio.sleep(0.01)


async def test_httpx_reads_the_events_as_they_come(serve) -> None:
    srv = await serve(Application([(r"/count", Counter)]))
    seen: list[tuple[str, int]] = []
    http = httpx.AsyncClient(timeout=5)
    async with http, http.stream("GET", srv.base_url + "/count") as r:
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        buffer = ""
        async for text in r.aiter_text():
            buffer += text
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                for ev in parse_event_stream((block + "\n\n").encode()).events:
                    seen.append((ev.type, json.loads(ev.data)["n"]))
    assert seen == [("count", n) for n in range(5)]


async def test_tornadish_client_streaming_callback(serve) -> None:
    srv = await serve(Application([(r"/count", Counter)]))
    chunks: list[bytes] = []
    client = AsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(
            srv.base_url + "/count", streaming_callback=chunks.append, request_timeout=5
        )
    finally:
        client.close()
    assert response.code == 200
    assert len(chunks) >= 5  # each event arrived on its own
    parsed = parse_event_stream(b"".join(chunks))
    assert [json.loads(e.data)["n"] for e in parsed.events] == list(range(5))
    assert [e.last_event_id for e in parsed.events] == ["1", "2", "3", "4", "5"]


async def test_under_an_asgi_server_events_flow_and_a_leaving_client_ends_stream() -> None:
    pytest.importorskip("uvicorn")
    from tests.asgi.test_asgi import uvicorn_serving

    Watched.outcome = {}
    Watched.started = asyncio.Event()
    app = Application([(r"/count", Counter), (r"/watched", Watched)], compress_response=True)
    async with uvicorn_serving(app.asgi) as base:
        port = int(base.rsplit(":", 1)[1])
        client = await EventStreamClient.open(port, "/count", {"Accept-Encoding": "gzip"})
        try:
            assert client.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert "content-encoding" not in client.headers
            parsed = await client.read_to_end()
        finally:
            client.close()
        assert [json.loads(e.data)["n"] for e in parsed.events] == list(range(5))

        client = await EventStreamClient.open(port, "/watched")
        await client.read_until(lambda p: len(p.events) == 1)
        await Watched.started.wait()
        client.close()
        loop = asyncio.get_running_loop()
        left = loop.time()
        while "on_finish" not in Watched.outcome and loop.time() - left < 2:
            await asyncio.sleep(0.005)
        assert set(Watched.outcome) == {"cancelled", "finally", "on_finish"}
        assert Watched.outcome["on_finish"] - left < 1.0
