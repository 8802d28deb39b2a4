"""AsyncHTTPClient speaking HTTP/2 (``http2=True``): by ALPN over TLS against our own
server (the main cases on the stdlib loop and uvloop), falling back to HTTP/1.1 where
the server has no h2; many fetches multiplexed on one connection within the server's
MAX_CONCURRENT_STREAMS; flow control both ways; timeouts, callbacks, redirects and gzip
as on HTTP/1.1; resets and GOAWAY from a raw h2 server (streams it never processed are
retried); and hypercorn, for interop."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest

from tornadish._client.pool import ConnectionPool
from tornadish.httpclient import (
    AsyncHTTPClient,
    HTTPClientError,
    HTTPRequest,
    HTTPStreamClosedError,
    HTTPTimeoutError,
)
from tornadish.web import Application, RequestHandler

CERTS = os.path.join(os.path.dirname(__file__), "..", "..", "tornadish", "_testcerts")
CERT, KEY = os.path.join(CERTS, "test.crt"), os.path.join(CERTS, "test.key")
TLS = {"certfile": CERT, "keyfile": KEY}


class Version(RequestHandler):
    def get(self) -> None:
        self.write(f"{self.request.version} {self.request.protocol}")


class Echo(RequestHandler):
    def post(self) -> None:
        self.set_header("X-Sha", hashlib.sha256(self.request.body).hexdigest())
        self.write(str(len(self.request.body)))


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


class Busy(RequestHandler):
    """Counts the requests in progress at once (on the application)."""

    async def get(self) -> None:
        app: Any = self.application
        app.running += 1
        app.peak = max(app.peak, app.running)
        try:
            await asyncio.sleep(float(self.get_argument("t", "0.05")))
        finally:
            app.running -= 1
        self.write(self.get_argument("n", "ok"))


class Head(RequestHandler):
    def head(self) -> None:
        self.set_header("Content-Length", "1234")


class Redirect(RequestHandler):
    def get(self) -> None:
        self.redirect("/version")


class Text(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain")
        self.write("hello HTTP/2 " * 2000)


def make_app(**settings: Any) -> Application:
    app = Application(
        [
            (r"/version", Version),
            (r"/echo", Echo),
            (r"/big", Big),
            (r"/busy", Busy),
            (r"/redirect", Redirect),
            (r"/head", Head),
            (r"/text", Text),
        ],
        **settings,
    )
    app.running = app.peak = 0  # type: ignore[attr-defined]
    return app


@pytest.fixture
def client(io_loop: Any) -> Iterator[AsyncHTTPClient]:
    client = AsyncHTTPClient(force_instance=True, http2=True, max_clients=50)
    yield client
    client.close()


def _count_connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The connections the pool opens from now on (their origins)."""
    opened: list[Any] = []
    connect = ConnectionPool.connect

    async def counting(self: ConnectionPool, origin: Any, timeout: Any) -> Any:
        conn = await connect(self, origin, timeout)
        opened.append(conn)
        return conn

    monkeypatch.setattr(ConnectionPool, "connect", counting)
    return opened


def _h2_server_connections(srv: Any) -> int:
    return sum(1 for c in srv.server._connections if type(c).__name__ == "H2ServerProtocol")


async def test_https_speaks_http2_by_alpn(serve, client, loop_factory) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS)
    lines: list[str] = []
    response = await client.fetch(
        f"https://127.0.0.1:{srv.port}/version", ca_certs=CERT, header_callback=lines.append
    )
    assert response.body == b"HTTP/2.0 https"
    assert response.code == 200 and response.reason == "OK"
    assert lines[0] == "HTTP/2 200 OK\r\n" and lines[-1] == "\r\n"
    assert "Content-Length: 14\r\n" in lines
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"


async def test_http2_per_request_and_by_configure(serve, io_loop) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS)
    url = f"https://127.0.0.1:{srv.port}/version"
    plain = AsyncHTTPClient(force_instance=True)
    try:
        assert (await plain.fetch(url, ca_certs=CERT)).body == b"HTTP/1.1 https"
        asked = await plain.fetch(HTTPRequest(url, ca_certs=CERT, http2=True))
        assert asked.body == b"HTTP/2.0 https"
    finally:
        plain.close()
    saved = AsyncHTTPClient._save_configuration()
    AsyncHTTPClient.configure(None, http2=True)
    try:
        configured = AsyncHTTPClient(force_instance=True)
        try:
            assert (await configured.fetch(url, ca_certs=CERT)).body == b"HTTP/2.0 https"
            # A request may still say no.
            no = await configured.fetch(url, ca_certs=CERT, http2=False)
            assert no.body == b"HTTP/1.1 https"
        finally:
            configured.close()
    finally:
        AsyncHTTPClient._restore_configuration(saved)


async def test_twenty_concurrent_fetches_use_exactly_one_connection(
    serve, client, monkeypatch, loop_factory
) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS)
    opened = _count_connects(monkeypatch)
    url = f"https://127.0.0.1:{srv.port}/busy?t=0.1&n="
    responses = await asyncio.gather(*(client.fetch(f"{url}{i}", ca_certs=CERT) for i in range(20)))
    assert [r.body for r in responses] == [str(i).encode() for i in range(20)]
    assert len(opened) == 1 and opened[0].multiplexed
    assert srv.server.request_callback.peak == 20  # all at once, not one after another
    assert _h2_server_connections(srv) == 1
    # Later fetches reuse it.
    await client.fetch(f"{url}x", ca_certs=CERT)
    assert len(opened) == 1 and opened[0].exchanges == 21


async def test_the_servers_max_concurrent_streams_is_respected(serve, client, monkeypatch) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS, h2_max_concurrent_streams=3)
    opened = _count_connects(monkeypatch)
    url = f"https://127.0.0.1:{srv.port}/busy?t=0.05&n="
    responses = await asyncio.gather(*(client.fetch(f"{url}{i}", ca_certs=CERT) for i in range(12)))
    assert [r.body for r in responses] == [str(i).encode() for i in range(12)]
    # Beyond the limit the fetches queued on the connection: no error, no second one.
    assert srv.server.request_callback.peak == 3
    assert len(opened) == 1


async def test_a_server_without_h2_gets_http1_by_alpn(serve, client, monkeypatch) -> None:
    srv = await serve(make_app(), ssl_options=TLS)  # no http2: ALPN picks nothing
    opened = _count_connects(monkeypatch)
    url = f"https://127.0.0.1:{srv.port}/version"
    responses = await asyncio.gather(*(client.fetch(url, ca_certs=CERT) for _ in range(3)))
    assert {r.body for r in responses} == {b"HTTP/1.1 https"}
    assert not any(c.multiplexed for c in opened)
    count = len(opened)
    # The origin is remembered as HTTP/1.1: kept-alive connections are reused.
    await client.fetch(url, ca_certs=CERT)
    assert len(opened) == count


async def test_cleartext_stays_http1_unless_prior_knowledge(serve, client) -> None:
    srv = await serve(make_app(), http2=True)
    url = f"http://127.0.0.1:{srv.port}/version"
    assert (await client.fetch(url)).body == b"HTTP/1.1 http"
    known = await client.fetch(url, http2="prior_knowledge")
    assert known.body == b"HTTP/2.0 http"
    with pytest.raises(ValueError, match="http2 must be"):
        await client.fetch(url, http2="maybe")


async def test_large_bodies_both_ways_through_flow_control(serve, client, loop_factory) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS)
    base = f"https://127.0.0.1:{srv.port}"
    body = os.urandom(3 << 20)  # far past the server's 64 KiB windows
    octets = {"Content-Type": "application/octet-stream"}
    posted = await client.fetch(
        f"{base}/echo", method="POST", body=body, headers=octets, ca_certs=CERT
    )
    assert posted.body == str(len(body)).encode()
    assert posted.headers["X-Sha"] == hashlib.sha256(body).hexdigest()
    size = 5 << 20  # past our own stream window: acknowledged as it arrives
    got = await client.fetch(f"{base}/big?n={size}", ca_certs=CERT)
    assert got.body == bytes(range(256)) * (size // 256)

    async def produce(write: Callable[[bytes], Any]) -> None:
        for i in range(40):
            await write(bytes([i]) * 50_000)

    streamed = await client.fetch(
        f"{base}/echo", method="POST", body_producer=produce, headers=octets, ca_certs=CERT
    )
    expected = b"".join(bytes([i]) * 50_000 for i in range(40))
    assert streamed.headers["X-Sha"] == hashlib.sha256(expected).hexdigest()


async def test_a_slow_streaming_callback_holds_only_its_stream(serve, client, monkeypatch) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS)
    base = f"https://127.0.0.1:{srv.port}"
    opened = _count_connects(monkeypatch)
    gate = asyncio.Event()
    received: list[bytes] = []

    async def slow(chunk: bytes) -> None:
        await gate.wait()
        received.append(chunk)

    size = 2 << 20
    held = asyncio.ensure_future(
        client.fetch(f"{base}/big?n={size}", streaming_callback=slow, ca_certs=CERT)
    )
    await asyncio.sleep(0.2)
    assert not held.done()
    # The stalled stream holds its own window, not the connection's: other downloads
    # on the same connection, each far past a stream's window, complete meanwhile.
    other = 1 << 20
    others = await asyncio.gather(
        *(client.fetch(f"{base}/big?n={other}", ca_certs=CERT) for _ in range(3)),
        client.fetch(f"{base}/version", ca_certs=CERT),
    )
    assert [len(r.body) for r in others[:3]] == [other] * 3
    assert others[0].body == (bytes(range(256)) * 1024 * 4)[:other]
    assert others[3].body == b"HTTP/2.0 https"
    assert not held.done()
    assert len(opened) == 1
    gate.set()
    response = await held
    assert response.body == b""
    assert b"".join(received) == (bytes(range(256)) * 1024 * 8)[:size]


async def test_streaming_callback_gets_the_body(serve, client) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS)
    chunks: list[bytes] = []
    response = await client.fetch(
        f"https://127.0.0.1:{srv.port}/big?n=300000",
        streaming_callback=chunks.append,
        ca_certs=CERT,
    )
    assert response.body == b"" and len(b"".join(chunks)) == 300000


async def test_request_timeout_resets_only_its_stream(serve, client, monkeypatch) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS)
    opened = _count_connects(monkeypatch)
    base = f"https://127.0.0.1:{srv.port}"
    slow = client.fetch(f"{base}/busy?t=5", request_timeout=0.3, ca_certs=CERT)
    quick = client.fetch(f"{base}/busy?t=0.01&n=quick", ca_certs=CERT)
    with pytest.raises(HTTPTimeoutError, match="Timeout during request"):
        await slow
    assert (await quick).body == b"quick"
    again = await client.fetch(f"{base}/version", ca_certs=CERT)
    assert again.body == b"HTTP/2.0 https" and len(opened) == 1


async def test_connect_timeout_during_the_handshake(client) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers the TLS hello
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(HTTPTimeoutError, match="TLS handshake"):
            await client.fetch(f"https://127.0.0.1:{port}/", connect_timeout=0.2, ca_certs=CERT)
    finally:
        server.close()


async def test_redirects_are_followed(serve, client) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS)
    base = f"https://127.0.0.1:{srv.port}"
    response = await client.fetch(f"{base}/redirect", ca_certs=CERT)
    assert response.body == b"HTTP/2.0 https"
    assert response.effective_url == f"{base}/version"
    not_followed = await client.fetch(
        f"{base}/redirect", follow_redirects=False, raise_error=False, ca_certs=CERT
    )
    assert not_followed.code == 302 and not_followed.headers["Location"] == "/version"


async def test_gzip_is_decompressed(serve, client) -> None:
    srv = await serve(make_app(compress_response=True), http2=True, ssl_options=TLS)
    url = f"https://127.0.0.1:{srv.port}/text"
    response = await client.fetch(url, ca_certs=CERT)
    assert response.body == b"hello HTTP/2 " * 2000
    assert response.headers["X-Consumed-Content-Encoding"] == "gzip"
    raw = await client.fetch(
        url, decompress_response=False, headers={"Accept-Encoding": "gzip"}, ca_certs=CERT
    )
    assert gzip.decompress(raw.body) == b"hello HTTP/2 " * 2000


async def test_a_body_over_max_body_size_fails_only_its_fetch(serve, io_loop) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS)
    client = AsyncHTTPClient(force_instance=True, http2=True, max_body_size=100_000)
    try:
        base = f"https://127.0.0.1:{srv.port}"
        with pytest.raises(HTTPStreamClosedError):
            await client.fetch(f"{base}/big?n=300000", ca_certs=CERT)
        assert (await client.fetch(f"{base}/version", ca_certs=CERT)).code == 200
        assert client._pool is not None and client._pool.h2_connections == 1
    finally:
        client.close()


async def test_head_and_expect_100_continue(serve, client) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS)
    base = f"https://127.0.0.1:{srv.port}"
    head = await client.fetch(f"{base}/head", method="HEAD", ca_certs=CERT)
    assert head.body == b"" and head.headers["Content-Length"] == "1234"
    body = b"c" * 200_000
    continued = await client.fetch(
        f"{base}/echo",
        method="POST",
        body=body,
        expect_100_continue=True,
        headers={"Content-Type": "application/octet-stream"},
        request_timeout=5,
        ca_certs=CERT,
    )
    assert continued.body == b"200000"


async def test_an_idle_connection_closes_and_a_new_one_opens(serve, io_loop) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS)
    client = AsyncHTTPClient(force_instance=True, http2=True, idle_connection_timeout=0.2)
    try:
        url = f"https://127.0.0.1:{srv.port}/version"
        await client.fetch(url, ca_certs=CERT)
        pool = client._pool
        assert pool is not None and pool.h2_connections == 1
        await asyncio.sleep(0.5)
        assert pool.h2_connections == 0 and _h2_server_connections(srv) == 0
        assert (await client.fetch(url, ca_certs=CERT)).body == b"HTTP/2.0 https"
    finally:
        client.close()


async def test_an_error_status_raises_as_on_http1(serve, client) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS)
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(f"https://127.0.0.1:{srv.port}/nowhere", ca_certs=CERT)
    assert info.value.code == 404 and info.value.response is not None


async def test_a_cancelled_fetch_leaves_the_connection_usable(serve, client) -> None:
    srv = await serve(make_app(), http2=True, ssl_options=TLS)
    base = f"https://127.0.0.1:{srv.port}"
    fetch = client.fetch(f"{base}/busy?t=5", ca_certs=CERT)
    await asyncio.sleep(0.2)
    fetch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await fetch
    assert (await client.fetch(f"{base}/version", ca_certs=CERT)).code == 200


# -- a raw h2 server: resets, GOAWAY, a connection dropped mid-answer ------------------


class RawH2Server(asyncio.Protocol):
    """A cleartext HTTP/2 server on h2 whose answer to each request ``script`` decides:
    ``script(server, stream_id, path)``; connections are counted."""

    connections = 0

    def __init__(self, script: Callable[[RawH2Server, int, str], None]) -> None:
        self.script = script
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self.transport: asyncio.Transport | None = None
        self.number = 0

    def connection_made(self, transport: Any) -> None:
        RawH2Server.connections += 1
        self.number = RawH2Server.connections
        self.transport = transport
        self.conn.initiate_connection()
        self.flush()

    def data_received(self, data: bytes) -> None:
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                headers: dict[Any, Any] = dict(ev.headers or ())  # str: header_encoding
                self.script(self, ev.stream_id, headers[":path"])
            elif isinstance(ev, h2.events.DataReceived):
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        self.flush()

    def flush(self) -> None:
        if self.transport is not None:
            self.transport.write(self.conn.data_to_send())

    def answer(self, stream_id: int, body: bytes) -> None:
        headers = [(":status", "200"), ("content-length", str(len(body)))]
        self.conn.send_headers(stream_id, headers)
        self.conn.send_data(stream_id, body, end_stream=True)


async def _raw_server(script: Callable[[RawH2Server, int, str], None]) -> tuple[Any, str]:
    RawH2Server.connections = 0
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: RawH2Server(script), "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_streams_above_goaway_last_stream_id_are_retried(client) -> None:
    seen: list[tuple[int, int, str]] = []

    def script(srv: RawH2Server, stream_id: int, path: str) -> None:
        seen.append((srv.number, stream_id, path))
        if srv.number == 1 and stream_id == 1:
            # Wait for the others, then answer the first and go away naming it.
            asyncio.get_running_loop().call_later(0.1, lambda: goaway(srv))
        elif srv.number > 1:
            srv.answer(stream_id, f"{srv.number}:{path}".encode())

    def goaway(srv: RawH2Server) -> None:
        srv.answer(1, b"1:first")
        srv.conn.close_connection(last_stream_id=1)
        srv.flush()
        assert srv.transport is not None
        srv.transport.close()

    server, base = await _raw_server(script)
    try:
        first = client.fetch(f"{base}/a", http2="prior_knowledge")
        await asyncio.sleep(0.02)  # stream 1 is first
        rest = [
            client.fetch(f"{base}/{n}", method="POST", body=b"x", http2="prior_knowledge")
            for n in "bcd"
        ]
        assert (await first).body == b"1:first"
        # Above last_stream_id: never processed, so even POSTs are retried, on a new
        # connection.
        assert [(await f).body for f in rest] == [b"2:/b", b"2:/c", b"2:/d"]
        assert RawH2Server.connections == 2
    finally:
        server.close()


async def test_a_reset_stream_fails_its_fetch_and_refused_is_retried(client) -> None:
    refused: list[int] = []

    def script(srv: RawH2Server, stream_id: int, path: str) -> None:
        if path == "/reset":
            srv.conn.reset_stream(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
        elif path == "/refuse" and not refused:
            refused.append(stream_id)
            srv.conn.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
        else:
            srv.answer(stream_id, path.encode())

    server, base = await _raw_server(script)
    try:
        with pytest.raises(HTTPStreamClosedError, match="INTERNAL_ERROR"):
            await client.fetch(f"{base}/reset", http2="prior_knowledge")
        response = await client.fetch(f"{base}/refuse", http2="prior_knowledge")
        assert response.body == b"/refuse" and len(refused) == 1
        assert RawH2Server.connections == 1
    finally:
        server.close()


async def test_a_connection_lost_mid_answer_fails_every_fetch_on_it(client) -> None:
    def script(srv: RawH2Server, stream_id: int, path: str) -> None:
        if path == "/drop":
            srv.conn.send_headers(stream_id, [(":status", "200")])
            srv.flush()
            assert srv.transport is not None
            asyncio.get_running_loop().call_later(0.1, srv.transport.abort)

    server, base = await _raw_server(script)
    try:
        fetches = [client.fetch(f"{base}/drop", http2="prior_knowledge") for _ in range(3)]
        for fetch in fetches:
            with pytest.raises(HTTPStreamClosedError):
                await fetch
    finally:
        server.close()


# -- interop: hypercorn --------------------------------------------------------------


async def test_interop_with_hypercorn_over_tls(client, monkeypatch) -> None:
    pytest.importorskip("hypercorn", reason="interop test needs hypercorn (the test extra)")
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer = f"{scope['http_version']} {scope['path']} {len(body)}".encode()
        if scope["path"] == "/big":
            answer = b"z" * (1 << 20)
        headers = [(b"content-length", str(len(answer)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.certfile, config.keyfile = CERT, KEY
    config.accesslog = config.errorlog = None
    stop = asyncio.Event()
    bound: list[str] = []
    # hypercorn binds inside serve(); read the port from the sockets it makes.
    original = Config.create_sockets

    def create_sockets(self: Config) -> Any:
        sockets = original(self)
        bound.append(sockets.secure_sockets[0].getsockname()[1])
        return sockets

    monkeypatch.setattr(Config, "create_sockets", create_sockets)
    task = asyncio.ensure_future(serve(app, config, shutdown_trigger=stop.wait))
    try:
        for _ in range(100):
            if bound:
                break
            await asyncio.sleep(0.02)
        opened = _count_connects(monkeypatch)
        base = f"https://127.0.0.1:{bound[0]}"
        responses = await asyncio.gather(
            *(client.fetch(f"{base}/n{i}", ca_certs=CERT) for i in range(10))
        )
        assert [r.body for r in responses] == [f"2 /n{i} 0".encode() for i in range(10)]
        posted = await client.fetch(f"{base}/up", method="POST", body=b"u" * 500_000, ca_certs=CERT)
        assert posted.body == b"2 /up 500000"
        assert (await client.fetch(f"{base}/big", ca_certs=CERT)).body == b"z" * (1 << 20)
        assert len(opened) == 1
    finally:
        client.close()
        stop.set()
        await asyncio.wait_for(task, 10)


def test_ssl_context_of_the_caller_offers_h2_only_when_asked() -> None:
    from tornadish._client.request import _ssl_context

    class Req:
        ssl_options = ssl.create_default_context()
        validate_cert = True
        ca_certs = client_cert = client_key = None

    cache: dict[Any, ssl.SSLContext] = {}
    plain = _ssl_context(Req(), cache, False)
    assert plain is Req.ssl_options
    Req.ssl_options = None  # type: ignore[assignment]
    ours_h1 = _ssl_context(Req(), cache, False)
    ours_h2 = _ssl_context(Req(), cache, True)
    assert ours_h1 is not ours_h2 and _ssl_context(Req(), cache, True) is ours_h2
