"""The connection's receive window is never the bottleneck: one stalled upload holds its
own stream's window, not the connection's, so the other streams on the connection go on
(no head-of-line blocking across streams); what a peer can make us hold stays bounded by
the streams' windows. Over a real socket for the server, sans-IO for the sizes on both
sides."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import h2.config
import h2.connection
import h2.events

from tornadish._http.h2_client import STREAM_WINDOW, H2ClientSession
from tornadish._http.h2_common import CONNECTION_WINDOW_CAP, DEFAULT_WINDOW, connection_window
from tornadish._http.h2_session import Data, H2Session
from tornadish.web import Application, RequestHandler, stream_request_body

from tests.http2.h2client import H2Client


@stream_request_body
class Stalled(RequestHandler):
    """Consumes nothing until the test sets the application's ``gate``."""

    def prepare(self) -> None:
        self.received = 0

    async def data_received(self, chunk: bytes) -> None:
        await self.settings["gate"].wait()
        self.received += len(chunk)

    def post(self) -> None:
        self.write(str(self.received))


class Echo(RequestHandler):
    def post(self) -> None:
        self.write(self.request.body)


async def _until(condition: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        assert loop.time() < end, "timed out waiting"
        await asyncio.sleep(0.01)


async def test_a_stalled_upload_does_not_block_the_other_streams(serve) -> None:
    gate = asyncio.Event()
    app = Application([(r"/stalled", Stalled), (r"/echo", Echo)], gate=gate)
    srv = await serve(app, http2=True)
    client = await H2Client.connect(srv.port)
    try:
        a = client.start("POST", "/stalled", end=False)
        upload = 200_000  # past A's window (and the RFC's initial connection window)
        sending = asyncio.ensure_future(client.send_body(a, b"a" * upload))
        # A has spent its whole window, and the handler consumes none of it.
        await _until(lambda: client.conn.local_flow_control_window(a) == 0)
        await asyncio.sleep(0.1)
        assert client.conn.local_flow_control_window(a) == 0
        assert not sending.done()

        body = os.urandom(100 * 1024)
        b = await asyncio.wait_for(client.request("POST", "/echo", body=body), 3)
        assert b.status == 200
        assert bytes(b.body) == body
        # A is still held to its own window: the connection's did not let it send more.
        assert not sending.done()
        assert client.conn.local_flow_control_window(a) == 0

        gate.set()
        await asyncio.wait_for(sending, 10)
        await asyncio.wait_for(client.streams[a].ended, 10)
        assert client.streams[a].status == 200
        assert client.streams[a].body == str(upload).encode()
        assert client.goaway is None
    finally:
        await client.close()


def test_connection_window_covers_twice_the_streams_windows_up_to_the_cap() -> None:
    assert connection_window(100, DEFAULT_WINDOW) == 2 * 100 * DEFAULT_WINDOW
    assert connection_window(1000, 1 << 20) == CONNECTION_WINDOW_CAP
    assert connection_window(0, DEFAULT_WINDOW) == DEFAULT_WINDOW  # never below the RFC's


def test_the_server_opens_the_connection_window_in_its_preface() -> None:
    session = H2Session(max_concurrent_streams=100, initial_window_size=DEFAULT_WINDOW)
    session.initiate()
    peer = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    peer.initiate_connection()
    peer.receive_data(session.data_to_send())
    assert peer.outbound_flow_control_window == connection_window(100, DEFAULT_WINDOW)


def test_the_server_opens_it_after_an_h2c_upgrade_too() -> None:
    upgrading = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    settings = upgrading.initiate_upgrade_connection()
    session = H2Session(max_concurrent_streams=10, initial_window_size=1 << 16)
    session.initiate(settings)
    events = upgrading.receive_data(session.data_to_send())
    assert any(isinstance(ev, h2.events.WindowUpdated) and ev.stream_id == 0 for ev in events)
    assert upgrading.outbound_flow_control_window == connection_window(10, 1 << 16)


def test_the_client_sizes_its_connection_window_the_same_way() -> None:
    session = H2ClientSession()
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    server.initiate_connection()
    server.receive_data(session.data_to_send())
    # 100 streams (the least a server should allow, RFC 9113 §6.5.2) of 256 KiB: the cap.
    assert server.outbound_flow_control_window == connection_window(100, STREAM_WINDOW)
    assert server.outbound_flow_control_window == CONNECTION_WINDOW_CAP


def test_a_moving_stream_keeps_a_whole_window_while_the_others_are_stalled_and_full() -> None:
    # Sans-IO: N - 1 streams hold their whole window unconsumed (the most a client can
    # make us hold, with the moving one), the last one uploads 1 MiB consumed as it comes.
    n, window = 4, DEFAULT_WINDOW
    session = H2Session(max_concurrent_streams=n, initial_window_size=window)
    session.initiate()
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    client.receive_data(session.data_to_send())

    def to_server() -> list[Any]:
        return session.receive_data(client.data_to_send(), 0.0)

    to_server()
    client.receive_data(session.data_to_send())
    head = [(":method", "POST"), (":path", "/"), (":scheme", "http"), (":authority", "x")]
    stalled = []
    for _ in range(n - 1):
        sid = client.get_next_available_stream_id()
        client.send_headers(sid, head)
        while room := min(client.local_flow_control_window(sid), client.max_outbound_frame_size):
            client.send_data(sid, b"s" * room)
        stalled.append(sid)
    to_server()  # none of it is consumed, so none acknowledged
    moving = client.get_next_available_stream_id()
    client.send_headers(moving, head)
    sent = 0
    while sent < 1 << 20:
        # Never less than a whole stream window open on the connection for it.
        assert client.outbound_flow_control_window >= window
        room = min(client.local_flow_control_window(moving), client.max_outbound_frame_size)
        assert room > 0
        client.send_data(moving, b"m" * room)
        sent += room
        for ev in to_server():
            assert ev.stream_id == moving
            if isinstance(ev, Data):
                session.ack(ev.stream_id, ev.flow_length)
        client.receive_data(session.data_to_send())
    # The stalled streams are still held to their own windows: (n - 1) x window held.
    assert all(client.local_flow_control_window(sid) == 0 for sid in stalled)
