"""HTTP/2 limits and attacks over a real socket, each answered as the server's
settings say, and each followed by another client being served: too many streams,
oversized header lists and HPACK bombs, oversized frames, CONTINUATION floods,
SETTINGS/PING/empty-frame floods, idle and silent peers, zero-window slow reads.
(Rapid Reset and the body limit are in test_h2_server.py.) Modelled on h2spec's
sections where it has them (§4.2 frame size, §4.3 header compression, §5.1.2 stream
concurrency, §6.9 flow control)."""

from __future__ import annotations

import asyncio
from typing import Any

import h2.errors
import h2.events
import h2.settings
import hpack
import hyperframe.frame

from tests.http2.h2client import H2Client
from tests.http2.test_h2_server import make_app

CALM = h2.errors.ErrorCodes.ENHANCE_YOUR_CALM


async def still_serving(port: int) -> None:
    """Another client is served normally."""
    other = await H2Client.connect(port)
    try:
        r = await other.request("GET", "/hello/other")
        assert r.status == 200
    finally:
        await other.close()


async def goaway(client: H2Client, timeout: float = 5) -> h2.events.ConnectionTerminated:
    """The GOAWAY the server sent before closing the connection."""
    await asyncio.wait_for(asyncio.shield(client.closed), timeout)
    assert client.goaway is not None
    return client.goaway


def send_raw(client: H2Client, *frames: hyperframe.frame.Frame) -> None:
    """Write frames past the client's h2 (which would refuse to send them)."""
    client.writer.write(b"".join(f.serialize() for f in frames))


def request_block(path: str = "/hello/raw", *extra: tuple[str, str]) -> bytes:
    """A request's header block, encoded with a fresh HPACK context (only static-table
    references and literals without indexing: it decodes the same on any connection)."""
    encoder = hpack.Encoder()
    headers = [(":method", "GET"), (":path", path), (":scheme", "http")]
    headers += [(":authority", "127.0.0.1"), *extra]
    return encoder.encode([hpack.NeverIndexedHeaderTuple(k, v) for k, v in headers])


def lift_stream_limit(client: H2Client, limit: int) -> None:
    """Make our h2 believe the server allows ``limit`` streams (to exceed it)."""
    client.conn.remote_settings = h2.settings.Settings(
        client=True, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: limit}
    )


# -- streams (h2spec §5.1.2) ----------------------------------------------------------


async def test_a_stream_past_the_limit_is_refused_others_carry_on(serve) -> None:
    srv = await serve(make_app(), http2=True, h2_max_concurrent_streams=2)
    client = await H2Client.connect(srv.port)
    try:
        assert client.conn.remote_settings.max_concurrent_streams == 2
        lift_stream_limit(client, 10)
        first = client.start("GET", "/sleep?t=0.3&n=1")
        second = client.start("GET", "/sleep?t=0.3&n=2")
        third = client.start("GET", "/sleep?t=0.3&n=3")
        await asyncio.wait_for(asyncio.shield(client.streams[third].ended), 5)
        assert client.streams[third].reset_code == h2.errors.ErrorCodes.REFUSED_STREAM
        for sid, n in ((first, b"1"), (second, b"2")):
            await asyncio.wait_for(asyncio.shield(client.streams[sid].ended), 5)
            assert client.streams[sid].body == n
        # A retry once there is room is served, on the same connection.
        assert (await client.request("GET", "/sleep?t=0&n=4")).body == b"4"
        assert client.goaway is None
    finally:
        await client.close()


async def test_twice_the_stream_limit_at_once_is_a_connection_error(serve) -> None:
    srv = await serve(make_app(), http2=True, h2_max_concurrent_streams=2)
    client = await H2Client.connect(srv.port)
    try:
        lift_stream_limit(client, 10)
        # Five in one write: h2 sees the fifth before any could be refused.
        for _ in range(5):
            sid = client.conn.get_next_available_stream_id()
            block = [(":method", "GET"), (":path", "/sleep?t=1&n=1"), (":scheme", "http")]
            client.conn.send_headers(sid, [*block, (":authority", "x")], end_stream=True)
        client.flush()
        assert (await goaway(client)).error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR
    finally:
        await client.close()
    await still_serving(srv.port)


# -- header lists and HPACK (h2spec §4.3, §6.5.2) ---------------------------------------


async def test_a_header_list_over_the_limit_gets_431_and_the_connection_stays(serve) -> None:
    srv = await serve(make_app(), http2=True, max_header_size=4096)
    client = await H2Client.connect(srv.port)
    try:
        assert client.conn.remote_settings.max_header_list_size == 4096
        big = await client.request("GET", "/hello/big", [("x-big", "a" * 5000)])
        assert big.status == 431 and big.body == b""
        # With a body still to come: 431, and the stream is closed (NO_ERROR).
        sid = client.start("POST", "/echo", [("x-big", "b" * 5000)], end=False)
        stream = client.streams[sid]
        await asyncio.wait_for(asyncio.shield(stream.ended), 5)
        assert stream.status == 431
        r = await client.request("GET", "/hello/after", [("x-small", "c" * 1000)])
        assert r.status == 200
        assert client.goaway is None
    finally:
        await client.close()


async def test_a_header_list_past_twice_the_limit_is_enhance_your_calm(serve) -> None:
    srv = await serve(make_app(), http2=True, max_header_size=4096)
    client = await H2Client.connect(srv.port)
    try:
        client.start("GET", "/hello/huge", [("x-huge", "a" * 9000)])
        assert (await goaway(client)).error_code == CALM
    finally:
        await client.close()
    await still_serving(srv.port)


async def test_hpack_bomb_is_enhance_your_calm(serve) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        # One 4000-byte field in the dynamic table, then referenced by its index a
        # thousand times: a few KiB on the wire, 4 MB decoded.
        start = client.conn.outbound_flow_control_window
        before = len(client.conn.data_to_send())
        assert before == 0
        sid = client.conn.get_next_available_stream_id()
        block = [(":method", "GET"), (":path", "/hello/bomb"), (":scheme", "http")]
        block += [(":authority", "x")] + [("x-bomb", "z" * 4000)] * 1000
        client.conn.send_headers(sid, block, end_stream=True)
        wire = client.conn.data_to_send()
        assert len(wire) < 16_384 and start == client.conn.outbound_flow_control_window
        client.writer.write(wire)
        assert (await goaway(client)).error_code == CALM
    finally:
        await client.close()
    await still_serving(srv.port)


async def test_continuation_flood_is_a_connection_error(serve) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        block = request_block()
        frames: list[Any] = [hyperframe.frame.HeadersFrame(1, data=block[:1])]
        frames += [hyperframe.frame.ContinuationFrame(1, data=b"") for _ in range(200)]
        send_raw(client, *frames)
        assert (await goaway(client)).error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR
    finally:
        await client.close()
    await still_serving(srv.port)


# -- frame size (h2spec §4.2) ---------------------------------------------------------


async def test_a_frame_over_the_max_frame_size_is_a_connection_error(serve) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        assert client.conn.remote_settings.max_frame_size == 16384
        sid = client.start("POST", "/echo", end=False)
        send_raw(client, hyperframe.frame.DataFrame(sid, data=b"x" * 16385))
        assert (await goaway(client)).error_code == h2.errors.ErrorCodes.FRAME_SIZE_ERROR
    finally:
        await client.close()
    await still_serving(srv.port)


async def test_a_larger_max_frame_size_is_advertised_and_taken(serve) -> None:
    srv = await serve(make_app(), http2=True, h2_max_frame_size=65536)
    client = await H2Client.connect(srv.port)
    try:
        assert client.conn.remote_settings.max_frame_size == 65536
        sid = client.start("POST", "/echo", end=False)
        send_raw(client, hyperframe.frame.DataFrame(sid, data=b"x" * 40000))
        client.conn.end_stream(sid)  # (our h2 did not see the raw frame: fine for it)
        client.flush()
        await asyncio.wait_for(asyncio.shield(client.streams[sid].ended), 5)
        assert client.streams[sid].body == b"x" * 40000
    finally:
        await client.close()


# -- control-frame floods -------------------------------------------------------------


async def test_settings_flood_is_enhance_your_calm(serve) -> None:
    srv = await serve(make_app(), http2=True, h2_max_control_frames=50)
    client = await H2Client.connect(srv.port)
    try:
        send_raw(client, *(hyperframe.frame.SettingsFrame(0) for _ in range(200)))
        assert (await goaway(client)).error_code == CALM
    finally:
        await client.close()
    await still_serving(srv.port)


async def test_ping_flood_is_enhance_your_calm(serve) -> None:
    srv = await serve(make_app(), http2=True, h2_max_control_frames=50)
    client = await H2Client.connect(srv.port)
    try:
        pings = (hyperframe.frame.PingFrame(0, opaque_data=b"%08d" % i) for i in range(200))
        send_raw(client, *pings)
        assert (await goaway(client)).error_code == CALM
    finally:
        await client.close()
    await still_serving(srv.port)


async def test_a_few_pings_are_answered(serve) -> None:
    srv = await serve(make_app(), http2=True, h2_max_control_frames=50)
    client = await H2Client.connect(srv.port)
    try:
        for i in range(20):
            client.conn.ping(b"%08d" % i)
        client.flush()
        await asyncio.sleep(0.2)
        acks = [e for e in client.events if isinstance(e, h2.events.PingAckReceived)]
        assert len(acks) == 20
        assert (await client.request("GET", "/hello/pinged")).status == 200
    finally:
        await client.close()


async def test_empty_data_frame_flood_is_enhance_your_calm(serve) -> None:
    srv = await serve(make_app(), http2=True, h2_max_control_frames=50)
    client = await H2Client.connect(srv.port)
    try:
        sid = client.start("POST", "/echo", end=False)
        send_raw(client, *(hyperframe.frame.DataFrame(sid, data=b"") for _ in range(200)))
        assert (await goaway(client)).error_code == CALM
    finally:
        await client.close()
    await still_serving(srv.port)


# -- idle, silent and slow peers ------------------------------------------------------


async def test_an_idle_connection_is_closed_with_goaway(serve) -> None:
    srv = await serve(make_app(), http2=True, idle_connection_timeout=0.3)
    client = await H2Client.connect(srv.port)
    try:
        assert (await client.request("GET", "/hello/idle")).status == 200
        loop = asyncio.get_running_loop()
        start = loop.time()
        ended = await goaway(client)
        assert ended.error_code == h2.errors.ErrorCodes.NO_ERROR
        assert ended.last_stream_id == 1
        assert 0.2 < loop.time() - start < 2
    finally:
        await client.close()
    await still_serving(srv.port)


async def test_a_stream_in_progress_keeps_an_idle_timeout_away(serve) -> None:
    srv = await serve(make_app(), http2=True, idle_connection_timeout=0.3)
    client = await H2Client.connect(srv.port)
    try:
        r = await client.request("GET", "/sleep?t=0.6&n=slow")
        assert r.body == b"slow" and client.goaway is None
    finally:
        await client.close()


async def test_a_silent_peer_is_pinged_and_kept_if_it_answers(serve) -> None:
    srv = await serve(make_app(), http2=True, h2_ping_interval=0.1, h2_ping_timeout=0.3)
    client = await H2Client.connect(srv.port)
    try:
        await asyncio.sleep(0.8)
        pings = [e for e in client.events if isinstance(e, h2.events.PingReceived)]
        assert pings  # our h2 acknowledged them
        assert not client.closed.done()
        assert (await client.request("GET", "/hello/alive")).status == 200
    finally:
        await client.close()


async def test_a_peer_that_does_not_answer_ping_is_dropped(serve) -> None:
    srv = await serve(make_app(), http2=True, h2_ping_interval=0.1, h2_ping_timeout=0.2)
    client = await H2Client.connect(srv.port)
    try:
        assert client._task is not None
        client._task.cancel()  # from now on nothing is read, nothing acknowledged
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def until_closed() -> None:
            try:
                while await client.reader.read(65536):
                    pass
            except ConnectionError:
                pass

        await asyncio.wait_for(until_closed(), 3)
        assert loop.time() - start < 2
    finally:
        await client.close()
    await still_serving(srv.port)


async def test_a_connection_window_that_stays_shut_drops_the_connection(serve) -> None:
    srv = await serve(make_app(), http2=True, h2_window_timeout=0.3)
    client = await H2Client.connect(srv.port)
    client.auto_ack = False  # the window is never opened again
    try:
        sid = client.start("GET", "/big?n=200000")
        assert (await goaway(client)).error_code == CALM
        assert len(client.streams[sid].body) == 65535
    finally:
        await client.close()
    await still_serving(srv.port)


async def test_a_stream_window_that_stays_shut_resets_only_that_stream(serve) -> None:
    srv = await serve(make_app(), http2=True, h2_window_timeout=0.3)
    client = await H2Client.connect(
        srv.port, settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000}
    )
    client.auto_ack = False
    try:
        client.conn.increment_flow_control_window(1 << 24)  # the connection's: open
        client.flush()
        sid = client.start("GET", "/big?n=200000")
        stream = client.streams[sid]
        await asyncio.wait_for(asyncio.shield(stream.ended), 5)
        assert stream.reset_code == h2.errors.ErrorCodes.CANCEL
        assert len(stream.body) == 1000
        client.auto_ack = True
        assert (await client.request("GET", "/hello/next")).status == 200
        assert client.goaway is None
    finally:
        await client.close()


async def test_a_slow_reader_that_keeps_reading_is_not_dropped(serve) -> None:
    srv = await serve(make_app(), http2=True, h2_window_timeout=0.3)
    client = await H2Client.connect(srv.port)
    client.auto_ack = False
    try:
        sid = client.start("GET", "/big?n=200000")
        stream = client.streams[sid]
        # Open the windows a little at a time, each within the timeout.
        while not stream.ended.done():
            await asyncio.sleep(0.15)
            got = len(stream.body)
            if got:
                client.conn.acknowledge_received_data(got - getattr(stream, "acked", 0), sid)
                stream.acked = got  # type: ignore[attr-defined]
                client.flush()
        assert len(stream.body) == 200000 and stream.reset_code is None
    finally:
        await client.close()
