"""HTTPServer(http2=True) driven by h2 in the client role: an unchanged Tornado-style
Application over h2c prior knowledge, flow control both ways, limits and attacks,
graceful shutdown, and HTTP/1.1 on the same port."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil

import h2.errors
import httpx
import pytest

from tornadish.httpserver import HTTPServer
from tornadish.web import Application, HTTPError, RequestHandler, stream_request_body

from tests.http2.h2client import H2Client


class Hello(RequestHandler):
    def get(self, name: str) -> None:
        self.set_cookie("seen", name)
        self.write(
            {
                "name": name,
                "q": self.get_argument("q", None),
                "cookie": self.get_cookie("a"),
                "other": self.get_cookie("b"),
                "host": self.request.host,
                "protocol": self.request.protocol,
                "version": self.request.version,
            }
        )

    def head(self, name: str) -> None:
        self.get(name)


class Echo(RequestHandler):
    def post(self) -> None:
        self.set_header("X-Sha", hashlib.sha256(self.request.body).hexdigest())
        self.write(self.request.body)


class Big(RequestHandler):
    async def get(self) -> None:
        size = int(self.get_argument("n"))
        block = bytes(range(256)) * 1024
        sent = 0
        while sent < size:
            piece = block[: size - sent]
            self.write(piece)
            sent += len(piece)
            await self.flush()


class Sleepy(RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(float(self.get_argument("t")))
        self.write(self.get_argument("n"))


class Boom(RequestHandler):
    def get(self) -> None:
        raise ValueError("boom")


class Teapot(RequestHandler):
    def get(self) -> None:
        raise HTTPError(418)


GATE: dict[str, asyncio.Event] = {}


@stream_request_body
class SlowSink(RequestHandler):
    """Consumes each chunk only once the test opens ``GATE["open"]``."""

    def prepare(self) -> None:
        self.received = 0

    async def data_received(self, chunk: bytes) -> None:
        await GATE["open"].wait()
        self.received += len(chunk)

    def post(self) -> None:
        self.write(str(self.received))


def make_app() -> Application:
    return Application(
        [
            (r"/hello/(\w+)", Hello),
            (r"/echo", Echo),
            (r"/big", Big),
            (r"/sleep", Sleepy),
            (r"/boom", Boom),
            (r"/teapot", Teapot),
            (r"/sink", SlowSink),
        ]
    )


async def test_a_request_is_an_ordinary_request(serve) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        r = await client.request("GET", "/hello/bob?q=1", [("cookie", "a=1"), ("cookie", "b=2")])
        assert r.status == 200
        data = json.loads(r.body)
        assert data == {
            "name": "bob",
            "q": "1",
            "cookie": "1",
            "other": "2",  # cookie crumbs rejoined (RFC 9113 §8.2.3)
            "host": "127.0.0.1",  # from :authority
            "protocol": "http",
            "version": "HTTP/2.0",
        }
        headers = dict(r.headers)
        assert headers[b"set-cookie"].startswith(b"seen=bob")
        assert headers[b"content-length"] == str(len(r.body)).encode()
        assert not {b"connection", b"transfer-encoding", b"keep-alive"} & set(headers)
        assert (await client.request("GET", "/nowhere")).status == 404
        boom = await client.request("GET", "/boom")
        assert boom.status == 500 and boom.reset_code is None
        assert (await client.request("GET", "/teapot")).status == 418
        head = await client.request("HEAD", "/hello/x")
        assert head.status == 200 and head.body == b""
    finally:
        await client.close()


async def test_http1_on_the_same_port(serve) -> None:
    srv = await serve(make_app(), http2=True)
    async with httpx.AsyncClient() as http1:
        r = await http1.get(f"{srv.base_url}/hello/h1")
    assert r.http_version == "HTTP/1.1"
    assert r.json()["version"] == "HTTP/1.1"


async def test_concurrent_streams_share_one_connection(serve) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        assert client.conn.remote_settings.max_concurrent_streams == 100
        loop = asyncio.get_running_loop()
        start = loop.time()
        results = await asyncio.gather(
            *(client.request("GET", f"/sleep?t=0.3&n={i}") for i in range(100))
        )
        assert [r.body for r in results] == [str(i).encode() for i in range(100)]
        assert loop.time() - start < 3  # together, not one after another
    finally:
        await client.close()


async def test_a_1mib_response_through_flow_control(serve) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        r = await client.request("GET", f"/big?n={1 << 20}")
        expected = (bytes(range(256)) * 1024 * 4)[: 1 << 20]
        assert r.status == 200 and len(r.body) == 1 << 20 and bytes(r.body) == expected
    finally:
        await client.close()


async def test_a_response_waits_for_the_peers_window(serve) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    client.auto_ack = False
    try:
        sid = client.start("GET", "/big?n=200000")
        await asyncio.sleep(0.3)
        stream = client.streams[sid]
        assert len(stream.body) == 65535  # the initial window, and not a byte more
        assert not stream.ended.done()
        client.conn.acknowledge_received_data(65535, sid)  # opens both windows
        client.conn.increment_flow_control_window(1 << 20)
        client.conn.increment_flow_control_window(1 << 20, sid)
        client.flush()
        await asyncio.wait_for(stream.ended, 5)
        assert len(stream.body) == 200000
    finally:
        await client.close()


async def test_a_300kb_post_body_intact(serve) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        body = hashlib.sha256(b"x").digest() * (300_000 // 32)
        r = await client.request("POST", "/echo", body=body)
        assert r.status == 200
        assert dict(r.headers)[b"x-sha"] == hashlib.sha256(body).hexdigest().encode()
        assert bytes(r.body) == body
    finally:
        await client.close()


async def test_upload_is_acknowledged_only_as_it_is_consumed(serve) -> None:
    GATE["open"] = asyncio.Event()
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        sid = client.start("POST", "/sink", end=False)
        sending = asyncio.ensure_future(client.send_body(sid, b"z" * 300_000))
        await asyncio.sleep(0.3)
        # The handler has consumed nothing: the peer's window is spent, not reopened.
        assert client.conn.local_flow_control_window(sid) == 0
        assert not sending.done()
        GATE["open"].set()
        await asyncio.wait_for(sending, 10)
        await asyncio.wait_for(client.streams[sid].ended, 10)
        assert client.streams[sid].body == b"300000"
    finally:
        await client.close()


async def test_a_body_over_the_limit_resets_only_its_stream(serve) -> None:
    srv = await serve(make_app(), http2=True, max_body_size=10_000)
    client = await H2Client.connect(srv.port)
    try:
        sid = client.start("POST", "/echo", end=False)
        # More than the window: the client cannot finish before the server answers.
        sending = asyncio.ensure_future(client.send_body(sid, b"y" * 200_000))
        stream = client.streams[sid]
        await asyncio.wait_for(asyncio.shield(stream.ended), 5)
        assert stream.status == 400
        await asyncio.sleep(0.1)
        assert stream.reset_code == h2.errors.ErrorCodes.NO_ERROR  # stop sending, no error
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        # Declared too large: refused before any of it is read.
        declared = client.start("POST", "/echo", [("content-length", "20000")], end=False)
        await asyncio.wait_for(asyncio.shield(client.streams[declared].ended), 5)
        assert client.streams[declared].status == 400
        r = await client.request("POST", "/echo", body=b"ok")
        assert r.status == 200 and r.body == b"ok"
        assert client.goaway is None
    finally:
        await client.close()


async def test_rapid_reset_gets_goaway_enhance_your_calm(serve) -> None:
    srv = await serve(make_app(), http2=True)
    client = await H2Client.connect(srv.port)
    try:
        for _ in range(300):
            sid = client.start("GET", "/sleep?t=5&n=1")
            client.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
            client.flush()
        await asyncio.wait_for(client.closed, 5)
        assert client.goaway is not None
        assert client.goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    finally:
        await client.close()
    other = await H2Client.connect(srv.port)  # the server serves other clients
    try:
        assert (await other.request("GET", "/hello/again")).status == 200
    finally:
        await other.close()


async def test_graceful_shutdown_sends_goaway_and_finishes_streams(io_loop) -> None:
    if shutil.which("curl") is None:
        pytest.skip("needs curl")
    server = HTTPServer(make_app(), http2=True)
    server.listen(0, "127.0.0.1")
    await server.wait_started()
    port = server.port
    assert port is not None
    idle = await H2Client.connect(port)
    await idle.request("GET", "/hello/first")  # stream 1
    # A request in flight (curl, whose HTTP/2 reads past a GOAWAY as it must; our
    # test client's h2 stops at one).
    curl = await asyncio.create_subprocess_exec(
        "curl",
        "-sS",
        "--http2-prior-knowledge",
        "-w",
        " %{http_version} %{http_code}",
        f"http://127.0.0.1:{port}/sleep?t=1&n=done",
        stdout=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(0.4)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.wait_for(server.shutdown(grace=5), 10)
    assert 0.3 < loop.time() - start < 3  # waited for the stream in flight, not the grace
    out, _ = await asyncio.wait_for(curl.communicate(), 5)
    assert out == b"done 2 200"
    await asyncio.wait_for(idle.closed, 5)
    assert idle.goaway is not None
    assert idle.goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
    assert idle.goaway.last_stream_id == 1
    await idle.close()


def test_http2_without_h2_fails_at_start_up(monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "h2" else real(name, *a)
    )
    with pytest.raises(RuntimeError, match=r"tornadish\[http2\]"):
        HTTPServer(make_app(), http2=True)
