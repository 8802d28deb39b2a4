"""AsyncHTTPClient's connections: keep-alive pooling (counted by the servers), the
``max_clients`` queue, timeouts, stale connections and retries, connection failures,
other servers (the stdlib's ``http.server`` and hand-written ones) and ``HTTPClient``."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from tornadish import httpclient
from tornadish.httpclient import (
    AsyncHTTPClient,
    HTTPClient,
    HTTPClientError,
    HTTPStreamClosedError,
    HTTPTimeoutError,
)
from tornadish.web import Application, RequestHandler

# -- servers ------------------------------------------------------------------------------


class PeerHandler(RequestHandler):
    """Answers with the client's port: one port per connection."""

    def get(self) -> None:
        self.finish(str(self.request.connection.address[1]))  # type: ignore[union-attr]


class StdlibHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, with Content-Length on every answer
    disable_nagle_algorithm = True  # the head and body are separate writes

    def do_GET(self) -> None:
        body = f"{self.path} via {self.client_address[1]}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class CountingServer(http.server.ThreadingHTTPServer):
    """The stdlib's threaded server, counting the connections it accepted."""

    daemon_threads = True

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)


@pytest.fixture
def stdlib_server() -> Iterator[CountingServer]:
    server = CountingServer(StdlibHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def url_of(server: CountingServer, path: str = "/") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


Conversation = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """An asyncio server running ``conversation`` per connection, counting them."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> RawServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.conversation(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Cancelled at teardown while waiting for a request: end quietly (asyncio's
            # stream callback would log a cancelled handler task as an error).
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.fixture
def raw_servers(io_loop: Any) -> Any:
    """``server = await raw_servers(conversation)``; closed after the test."""
    started: list[RawServer] = []

    async def start(conversation: Conversation) -> RawServer:
        server = await RawServer(conversation).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


OK_KEEP_ALIVE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture
def client(io_loop: Any) -> Iterator[AsyncHTTPClient]:
    client = AsyncHTTPClient(force_instance=True)
    yield client
    client.close()


# -- pooling ------------------------------------------------------------------------------


async def test_sequential_requests_share_one_connection(
    serve: Any, client: AsyncHTTPClient, loop_factory: Callable[[], Any]
) -> None:
    srv = await serve(Application([(r"/", PeerHandler)]))
    ports = {(await client.fetch(srv.base_url + "/")).body for _ in range(20)}
    assert len(ports) == 1


async def test_pooling_with_the_stdlib_server(
    stdlib_server: CountingServer, client: AsyncHTTPClient
) -> None:
    for i in range(20):
        response = await client.fetch(url_of(stdlib_server, f"/n{i}"))
        assert response.body.startswith(f"/n{i} via ".encode())
    assert stdlib_server.connections == 1


async def test_http10_server_gets_a_connection_per_request(
    client: AsyncHTTPClient,
) -> None:
    class OldHandler(StdlibHandler):
        protocol_version = "HTTP/1.0"

    server = CountingServer(OldHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        for i in range(3):
            assert (await client.fetch(url_of(server, f"/{i}"))).body.startswith(f"/{i}".encode())
        assert server.connections == 3
    finally:
        server.shutdown()
        server.server_close()


async def test_concurrent_requests_reuse_up_to_max_clients_connections(
    serve: Any, io_loop: Any
) -> None:
    srv = await serve(Application([(r"/", PeerHandler)]))
    client = AsyncHTTPClient(force_instance=True, max_clients=4)
    try:
        for _ in range(3):
            responses = await asyncio.gather(*(client.fetch(srv.base_url) for _ in range(20)))
        assert len({r.body for r in responses}) <= 4
    finally:
        client.close()


async def test_connection_closed_by_the_server_while_idle_is_replaced(
    serve: Any, client: AsyncHTTPClient
) -> None:
    srv = await serve(Application([(r"/", PeerHandler)]), idle_connection_timeout=0.1)
    first = (await client.fetch(srv.base_url)).body
    await asyncio.sleep(0.3)  # the server closes the idle connection
    second = (await client.fetch(srv.base_url)).body
    assert first != second


async def test_idle_connections_time_out_in_the_pool(serve: Any, io_loop: Any) -> None:
    srv = await serve(Application([(r"/", PeerHandler)]))
    client = AsyncHTTPClient(force_instance=True, idle_connection_timeout=0.1)
    try:
        first = (await client.fetch(srv.base_url)).body
        assert (await client.fetch(srv.base_url)).body == first
        await asyncio.sleep(0.35)
        assert (await client.fetch(srv.base_url)).body != first
    finally:
        client.close()


async def test_connection_close_header_is_honoured(
    raw_servers: Any, client: AsyncHTTPClient
) -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    server = await raw_servers(talk)
    for _ in range(3):
        assert (await client.fetch(server.url)).body == b"ok"
    assert server.connections == 3


async def test_close_delimited_body(raw_servers: Any, client: AsyncHTTPClient) -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n")
        for part in (b"until ", b"the ", b"end"):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.01)

    server = await raw_servers(talk)
    response = await client.fetch(server.url)
    assert response.body == b"until the end"
    assert (await client.fetch(server.url)).body == b"until the end"
    assert server.connections == 2


async def _answer_once_then_drop(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """A server that answers one request per connection, and closes without a word when
    the next one arrives."""
    await read_head(reader)
    writer.write(OK_KEEP_ALIVE)
    await writer.drain()
    await read_head(reader)


async def test_stale_connection_is_retried_once_for_idempotent_requests(
    raw_servers: Any, client: AsyncHTTPClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server answers one request per connection, then drops the connection when the
    next request arrives, after the connection sat idle (the race of an idle timeout):
    GET is retried on a new one."""
    monkeypatch.setattr(httpclient, "_STALE_AFTER", 0.05)

    server = await raw_servers(_answer_once_then_drop)
    assert (await client.fetch(server.url)).body == b"ok"
    await asyncio.sleep(0.1)
    assert (await client.fetch(server.url)).body == b"ok"
    assert server.connections == 2
    # POST is not idempotent: on the pooled connection the failure is reported, not retried.
    await asyncio.sleep(0.1)
    with pytest.raises((HTTPStreamClosedError, ConnectionError)):
        await client.fetch(server.url, method="POST", body="x")
    assert server.connections == 2


async def test_connection_reused_at_once_is_not_retried(
    raw_servers: Any, client: AsyncHTTPClient
) -> None:
    """A connection reused right after its last answer that closes on the request (a
    server that exits on it, as Tornado's multi-process test does) is reported, not
    sent again: an idle timeout cannot explain that close."""

    server = await raw_servers(_answer_once_then_drop)
    assert (await client.fetch(server.url)).body == b"ok"
    with pytest.raises((HTTPStreamClosedError, ConnectionError)):
        await client.fetch(server.url)
    assert server.connections == 1


async def test_retry_after_a_stale_connection_uses_a_new_one(
    raw_servers: Any, client: AsyncHTTPClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpclient, "_STALE_AFTER", 0.05)

    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(0.05)  # keep the three first requests on three connections
        writer.write(OK_KEEP_ALIVE)
        await writer.drain()
        await read_head(reader)

    server = await raw_servers(talk)
    await asyncio.gather(*(client.fetch(server.url) for _ in range(3)))
    assert server.connections == 3
    await asyncio.sleep(0.1)
    # Three stale connections in the pool: the retry must not take another of them.
    assert (await client.fetch(server.url)).body == b"ok"
    assert server.connections == 4


async def test_unsolicited_bytes_retire_an_idle_connection(
    raw_servers: Any, client: AsyncHTTPClient
) -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_head(reader)
            writer.write(OK_KEEP_ALIVE + b"HTTP/1.1 200 OK\r\n")  # junk after the response
            await writer.drain()

    server = await raw_servers(talk)
    for _ in range(3):
        assert (await client.fetch(server.url)).body == b"ok"
    assert server.connections == 3


# -- the max_clients queue ----------------------------------------------------------------


async def test_max_clients_queues_requests_in_order(serve: Any, io_loop: Any) -> None:
    release = asyncio.Event()
    running: list[str] = []
    peak = 0

    class Gate(RequestHandler):
        async def get(self, name: str) -> None:
            nonlocal peak
            running.append(name)
            peak = max(peak, len(running))
            await release.wait()
            running.remove(name)
            self.finish(name)

    srv = await serve(Application([(r"/(\w+)", Gate)]))
    client = AsyncHTTPClient(force_instance=True, max_clients=2)
    try:
        names = [f"r{i}" for i in range(6)]
        futures = [client.fetch(f"{srv.base_url}/{name}") for name in names]
        for _ in range(50):
            await asyncio.sleep(0.01)
            if len(running) == 2:
                break
        assert running == ["r0", "r1"]
        assert client._pool is not None and client._pool.queued == 4
        release.set()
        responses = await asyncio.gather(*futures)
        assert [r.body.decode() for r in responses] == names
        assert peak == 2
    finally:
        client.close()


async def test_time_in_the_queue_is_bounded(serve: Any, io_loop: Any) -> None:
    release = asyncio.Event()

    class Slow(RequestHandler):
        async def get(self) -> None:
            await release.wait()
            self.finish("slow")

    srv = await serve(Application([(r"/", Slow)]))
    client = AsyncHTTPClient(force_instance=True, max_clients=1)
    try:
        first = client.fetch(srv.base_url)
        with pytest.raises(HTTPTimeoutError) as info:
            await client.fetch(srv.base_url, request_timeout=0.2)
        assert info.value.code == 599 and info.value.message == "Timeout in request queue"
        release.set()
        assert (await first).body == b"slow"
        assert (await client.fetch(srv.base_url)).body == b"slow"
    finally:
        client.close()


async def test_cancelled_fetch_frees_its_slot(serve: Any, io_loop: Any) -> None:
    class Hang(RequestHandler):
        async def get(self) -> None:
            await asyncio.sleep(10)

    class Fast(RequestHandler):
        def get(self) -> None:
            self.finish("fast")

    srv = await serve(Application([(r"/hang", Hang), (r"/fast", Fast)]))
    client = AsyncHTTPClient(force_instance=True, max_clients=1)
    try:
        hanging = client.fetch(srv.base_url + "/hang")
        queued = client.fetch(srv.base_url + "/fast")
        await asyncio.sleep(0.05)
        queued.cancel()  # cancelled while queued: leaves the queue
        hanging.cancel()  # cancelled in flight: its connection is dropped, the slot freed
        with pytest.raises(asyncio.CancelledError):
            await hanging
        response = await asyncio.wait_for(client.fetch(srv.base_url + "/fast"), 2)
        assert response.body == b"fast"
        assert client._pool is not None and client._pool.active == 0
    finally:
        client.close()


# -- timeouts and failures ------------------------------------------------------------------


async def test_request_timeout_when_the_server_never_answers(
    raw_servers: Any, client: AsyncHTTPClient, loop_factory: Callable[[], Any]
) -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept, read, never answer

    server = await raw_servers(talk)
    with pytest.raises(HTTPTimeoutError) as info:
        await client.fetch(server.url, request_timeout=0.2)
    assert info.value.code == 599
    assert info.value.message == "Timeout during request"
    assert str(info.value) == "Timeout during request"
    assert repr(info.value) == "HTTP 599: Timeout during request"
    assert info.value.response is None
    with pytest.raises(HTTPTimeoutError):  # not an error status: raise_error=False raises
        await client.fetch(server.url, request_timeout=0.2, raise_error=False)


async def test_request_timeout_in_the_middle_of_a_body(
    raw_servers: Any, client: AsyncHTTPClient
) -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf")
        await reader.read()

    server = await raw_servers(talk)
    with pytest.raises(HTTPTimeoutError, match="Timeout during request"):
        await client.fetch(server.url, request_timeout=0.2)


async def test_request_timeout_while_a_producer_is_blocked(
    raw_servers: Any, client: AsyncHTTPClient
) -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)  # never reads: the client's writes back up

    server = await raw_servers(talk)
    written = 0

    async def producer(write: Callable[[bytes], Awaitable[None]]) -> None:
        nonlocal written
        while True:
            await write(b"x" * 65536)
            written += 65536

    with pytest.raises(HTTPTimeoutError, match="Timeout during request"):
        await client.fetch(server.url, method="POST", body_producer=producer, request_timeout=0.3)
    assert 0 < written < 1 << 30  # it wrote, then waited for the transport


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port whose accept queue is full: connecting to it hangs (loopback only)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


async def test_connect_timeout(black_hole: int, client: AsyncHTTPClient) -> None:
    with pytest.raises(HTTPTimeoutError) as info:
        await client.fetch(f"http://127.0.0.1:{black_hole}/", connect_timeout=0.2)
    assert info.value.code == 599 and info.value.message == "Timeout while connecting"
    # The request timeout also bounds connecting.
    with pytest.raises(HTTPTimeoutError, match="Timeout while connecting"):
        await client.fetch(f"http://127.0.0.1:{black_hole}/", request_timeout=0.2)


async def test_connection_refused_raises_the_os_error(client: AsyncHTTPClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(ConnectionRefusedError):
            await client.fetch(f"http://127.0.0.1:{port}/")
        with pytest.raises(ConnectionRefusedError):
            await client.fetch(f"http://127.0.0.1:{port}/", raise_error=False)


async def test_server_closing_without_answer(raw_servers: Any, client: AsyncHTTPClient) -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)

    server = await raw_servers(talk)
    with pytest.raises(HTTPStreamClosedError) as info:
        await client.fetch(server.url)
    assert info.value.code == 599


async def test_truncated_body_is_an_error(raw_servers: Any, client: AsyncHTTPClient) -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")

    server = await raw_servers(talk)
    with pytest.raises(HTTPStreamClosedError):
        await client.fetch(server.url)


async def test_malformed_response_is_an_error(raw_servers: Any, client: AsyncHTTPClient) -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"garbage\r\n\r\n")

    server = await raw_servers(talk)
    with pytest.raises(HTTPStreamClosedError, match="Error parsing response start line") as info:
        await client.fetch(server.url)
    assert info.value.code == 599


@pytest.mark.parametrize(
    ("chunks", "words"),
    [
        (b'5 ; a = "b"\r\nhello\r\n0 ;z\r\nX-T: 1\r\n\r\n', None),  # BWS: read
        (b"5 \r\nhello\r\n0\r\n\r\n", "invalid chunk size"),  # whitespace, no ";"
        (b"5\nhello\r\n0\r\n\r\n", "invalid chunk size"),  # a bare LF
        (b"5;a=" + b"x" * 5000 + b"\r\nhello\r\n0\r\n\r\n", "chunk line too long"),
        (b"8000000000000000\r\nhello\r\n", "chunk size too large"),
        (b"5\r\nhelloXX0\r\n\r\n", "improperly terminated chunk"),
    ],
)
async def test_chunk_framing_is_read_as_the_server_reads_it(
    raw_servers: Any, client: AsyncHTTPClient, chunks: bytes, words: str | None
) -> None:
    """RFC 9112 §7.1 on either engine (tornadish._http.chunked), as for requests; a
    connection whose chunk framing was refused is not reused."""

    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)

    server = await raw_servers(talk)
    for _ in range(2):
        if words is None:
            assert (await client.fetch(server.url)).body == b"hello"
        else:
            with pytest.raises(HTTPStreamClosedError, match=words):
                await client.fetch(server.url)
    assert server.connections == (1 if words is None else 2)


async def test_bad_gzip_is_an_error(raw_servers: Any, client: AsyncHTTPClient) -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope")

    server = await raw_servers(talk)
    with pytest.raises(HTTPStreamClosedError, match="gzip"):
        await client.fetch(server.url)


async def test_dns_failure_raises_the_resolver_error(client: AsyncHTTPClient) -> None:
    with pytest.raises(socket.gaierror):
        await client.fetch("http://name.invalid/", connect_timeout=5)


async def test_hostname_mapping(stdlib_server: CountingServer, io_loop: Any) -> None:
    port = stdlib_server.server_address[1]
    client = AsyncHTTPClient(force_instance=True, hostname_mapping={"service.test": "127.0.0.1"})
    try:
        response = await client.fetch(f"http://service.test:{port}/mapped")
        assert response.body.startswith(b"/mapped via")
    finally:
        client.close()


async def test_network_interface_binds_the_source_address(
    serve: Any, client: AsyncHTTPClient
) -> None:
    class Remote(RequestHandler):
        def get(self) -> None:
            self.finish(self.request.remote_ip or "")

    srv = await serve(Application([(r"/", Remote)]))
    response = await client.fetch(srv.base_url, network_interface="127.0.0.1", allow_ipv6=False)
    assert response.body == b"127.0.0.1"


# -- the synchronous client -----------------------------------------------------------------


def test_sync_http_client(stdlib_server: CountingServer) -> None:
    client = HTTPClient()
    try:
        for i in range(3):
            response = client.fetch(url_of(stdlib_server, f"/sync{i}"))
            assert response.code == 200 and response.body.startswith(f"/sync{i}".encode())
        assert stdlib_server.connections == 1
        response = client.fetch(
            url_of(stdlib_server, "/missing"), method="POST", body="x", raise_error=False
        )
        assert response.code == 501  # the stdlib handler has no do_POST
        with pytest.raises(HTTPClientError) as info:
            client.fetch(url_of(stdlib_server, "/missing"), method="POST", body="x")
        assert info.value.code == 501
    finally:
        client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.fetch(url_of(stdlib_server))


def test_sync_http_client_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        client = HTTPClient()
        try:
            with pytest.raises(ConnectionRefusedError):
                client.fetch(f"http://127.0.0.1:{s.getsockname()[1]}/")
        finally:
            client.close()


async def test_sync_http_client_refuses_a_running_loop(io_loop: Any) -> None:
    with pytest.raises(RuntimeError, match="inside a running event loop"):
        HTTPClient()
