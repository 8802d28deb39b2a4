"""Request bodies over HTTP/2 are judged as on HTTP/1.1: a stream whose body goes
silent past ``body_timeout`` (or ``set_body_timeout``), or trickles under
``min_body_rate``, is answered 408 (reset once its response has begun), and the
connection's other streams carry on. Silence that is the server's own (a handler still
busy with what came) does not count."""

from __future__ import annotations

import asyncio
import email.utils
import time

import h2.errors

from tornadish.web import Application, RequestHandler, stream_request_body

from tests.http2.h2client import H2Client
from tests.http2.test_h2_server import GATE, Echo, SlowSink


@stream_request_body
class ShortTimeout(RequestHandler):
    """Sets its own body timeout (Tornado's API); ``early=1`` answers its head first."""

    async def prepare(self) -> None:
        assert self.request.connection is not None
        self.request.connection.set_body_timeout(0.3)
        self.received = 0
        if self.get_argument("early", None):
            self.write("early ")
            await self.flush()

    def data_received(self, chunk: bytes) -> None:
        self.received += len(chunk)

    def post(self) -> None:
        self.write(str(self.received))


def make_app() -> Application:
    return Application([(r"/echo", Echo), (r"/sink", SlowSink), (r"/short", ShortTimeout)])


async def ended(client: H2Client, sid: int, timeout: float = 5) -> None:
    await asyncio.wait_for(asyncio.shield(client.streams[sid].ended), timeout)


async def test_a_silent_body_is_408_and_the_connection_carries_on(serve) -> None:
    srv = await serve(make_app(), http2=True, body_timeout=0.3)
    client = await H2Client.connect(srv.port)
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        sid = client.start("POST", "/echo", end=False)
        client.conn.send_data(sid, b"part")
        client.flush()
        busy = client.start("POST", "/echo", end=False)
        for _ in range(8):  # this one keeps talking: it is not timed out
            await asyncio.sleep(0.1)
            client.conn.send_data(busy, b"x" * 100)
            client.flush()
        await ended(client, sid)
        assert client.streams[sid].status == 408
        # The server's own answer carries Date and Server, as every response does.
        head = dict(client.streams[sid].headers)
        assert head[b"server"] == b"tornadish/0.1"
        sent = email.utils.parsedate_to_datetime(head[b"date"].decode())
        assert abs(sent.timestamp() - time.time()) < 5
        assert client.streams[sid].body == b"408: Request Timeout"
        assert 0.25 < loop.time() - start < 2
        client.conn.end_stream(busy)
        client.flush()
        await ended(client, busy)
        assert client.streams[busy].status == 200 and len(client.streams[busy].body) == 800
        assert client.goaway is None
    finally:
        await client.close()


async def test_set_body_timeout_applies_to_the_stream(serve) -> None:
    srv = await serve(make_app(), http2=True)  # the server's timeout: 60 s
    client = await H2Client.connect(srv.port)
    try:
        sid = client.start("POST", "/short", end=False)
        client.conn.send_data(sid, b"part")
        client.flush()
        await ended(client, sid, 3)
        assert client.streams[sid].status == 408
        # Once the response has begun, the stream is reset instead.
        early = client.start("POST", "/short?early=1", end=False)
        await ended(client, early, 3)
        assert client.streams[early].status == 200
        assert client.streams[early].body == b"early "
        assert client.streams[early].reset_code == h2.errors.ErrorCodes.CANCEL
        r = await client.request("POST", "/short", body=b"whole")
        assert r.status == 200 and r.body == b"5"
    finally:
        await client.close()


async def test_a_trickled_body_under_the_minimum_rate_is_408(serve) -> None:
    srv = await serve(make_app(), http2=True, body_timeout=0.3, min_body_rate=1000)
    client = await H2Client.connect(srv.port)
    try:
        sid = client.start("POST", "/echo", end=False)
        for _ in range(12):  # never silent for 0.3 s, but 100 bytes/s
            await asyncio.sleep(0.1)
            if client.streams[sid].ended.done():
                break
            client.conn.send_data(sid, b"x" * 10)
            client.flush()
        await ended(client, sid)
        assert client.streams[sid].status == 408
    finally:
        await client.close()


async def test_a_busy_handler_is_not_the_clients_silence(serve) -> None:
    GATE["open"] = asyncio.Event()
    srv = await serve(make_app(), http2=True, body_timeout=0.3)
    client = await H2Client.connect(srv.port)
    try:
        sid = client.start("POST", "/sink", end=False)
        sending = asyncio.ensure_future(client.send_body(sid, b"z" * 100_000))
        await asyncio.sleep(0.8)  # the handler consumes nothing: the window stays shut
        assert not client.streams[sid].ended.done()
        GATE["open"].set()
        await asyncio.wait_for(sending, 10)
        await ended(client, sid)
        assert client.streams[sid].status == 200 and client.streams[sid].body == b"100000"
    finally:
        await client.close()
