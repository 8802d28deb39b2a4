"""``tornadish.http1connection``: HTTP/1.x over an ``IOStream``, both roles, real sockets.

Tornado's own ``http1connection_test.py`` is ported as the first class (same
assertions); the rest drive the module the ways Tornado users do: an ``Application``
served by ``HTTP1ServerConnection`` from a ``TCPServer``, fetched by tornadish's client
and by raw sockets; a request written and its response read by ``HTTP1Connection``.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from tornadish import gen
from tornadish.http1connection import (
    _MAX_1XX_RESPONSES,
    HTTP1Connection,
    HTTP1ConnectionParameters,
    HTTP1ServerConnection,
    is_transfer_encoding_chunked,
    parse_hex_int,
    parse_int,
)
from tornadish.httpclient import AsyncHTTPClient
from tornadish.httputil import HTTPHeaders, HTTPInputError, HTTPMessageDelegate, RequestStartLine
from tornadish.iostream import IOStream
from tornadish.locks import Event
from tornadish.log import app_log, gen_log
from tornadish.netutil import add_accept_handler
from tornadish.tcpserver import TCPServer
from tornadish.testing import ExpectLog, bind_unused_port, gen_test
from tornadish.web import Application, RequestHandler

from tests.io.tornado_util import AsyncTestCase


class _Collect(HTTPMessageDelegate):
    def __init__(self) -> None:
        self.start_line: Any = None
        self.headers: HTTPHeaders | None = None
        self.chunks: list[bytes] = []
        self.heads = 0
        self.finished = 0
        self.closed = 0

    def headers_received(self, start_line: Any, headers: HTTPHeaders) -> None:
        self.start_line, self.headers = start_line, headers
        self.heads += 1

    def data_received(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    def finish(self) -> None:
        self.finished += 1

    def on_connection_close(self) -> None:
        self.closed += 1


class _StreamPair(AsyncTestCase):
    """A connected (client_stream, server_stream) pair, as Tornado's test sets up."""

    def setUp(self) -> None:
        super().setUp()
        self.io_loop.run_sync(self.connect_pair)

    async def connect_pair(self) -> None:
        listener, port = bind_unused_port()
        event = Event()

        def accept_callback(conn: socket.socket, addr: Any) -> None:
            self.server_stream = IOStream(conn)
            self.addCleanup(self.server_stream.close)
            event.set()

        add_accept_handler(listener, accept_callback)
        self.client_stream = IOStream(socket.socket())
        self.addCleanup(self.client_stream.close)
        await gen.multi([self.client_stream.connect(("127.0.0.1", port)), event.wait()])
        self.io_loop.remove_handler(listener)
        listener.close()


class HTTP1ConnectionTest(_StreamPair):
    """Tornado 6.6.1's ``HTTP1ConnectionTest``, ported."""

    @gen_test
    def test_1xx_does_not_read_a_second_body(self) -> Any:
        conn = HTTP1Connection(self.client_stream, True)
        self.server_stream.write(b"HTTP/1.1 100 CONTINUE\r\n\r\n")
        self.server_stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        self.server_stream.close()
        delegate = _Collect()
        yield conn.read_response(delegate)
        self.assertEqual(b"".join(delegate.chunks), b"hello")
        self.assertEqual((delegate.finished, delegate.closed, delegate.heads), (1, 0, 2))

    @gen_test
    def test_http10_no_content_length(self) -> Any:
        conn = HTTP1Connection(self.client_stream, True)
        self.server_stream.write(b"HTTP/1.0 200 Not Modified\r\n\r\nhello")
        self.server_stream.close()
        delegate = _Collect()
        yield conn.read_response(delegate)
        self.assertEqual(delegate.start_line.code, 200)
        self.assertEqual(b"".join(delegate.chunks), b"hello")

    @gen_test
    def test_delegate_errors_are_logged_and_close(self) -> Any:
        for method in ("headers_received", "data_received", "finish"):
            yield self.connect_pair()
            conn = HTTP1Connection(self.client_stream, True)
            self.server_stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")

            class Broken(_Collect):
                pass

            def fail(*args: Any, _name: str = method) -> None:
                raise ValueError("error in " + _name)

            delegate = Broken()
            setattr(delegate, method, fail)
            with ExpectLog(app_log, "Uncaught exception"):
                result = yield conn.read_response(delegate)
            self.assertIs(result, False)
            self.assertEqual(delegate.closed, 1)
            self.assertTrue(self.client_stream.closed())

    @gen_test
    def test_chunked_body_tiny_chunks(self) -> Any:
        conn = HTTP1Connection(self.client_stream, True)
        yield self.server_stream.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"1\r\nx\r\n" * 5000
            + b"0\r\n\r\n"
        )
        self.server_stream.close()
        yield gen.sleep(0.1)
        ticks = [0]
        done = [False]

        def tick() -> None:
            if not done[0]:
                ticks[0] += 1
                self.io_loop.add_callback(tick)

        io_loop = self.io_loop

        class Delegate(_Collect):
            def headers_received(self, start_line: Any, headers: HTTPHeaders) -> None:
                io_loop.add_callback(tick)

            def finish(self) -> None:
                done[0] = True

        delegate = Delegate()
        yield conn.read_response(delegate)
        self.assertEqual(b"".join(delegate.chunks), b"x" * 5000)
        self.assertLess(len(delegate.chunks), 10)  # coalesced
        self.assertGreater(ticks[0], 10)  # and the loop ran meanwhile

    @gen_test
    def test_chunked_body_bad_chunk_terminator(self) -> Any:
        conn = HTTP1Connection(self.client_stream, True)
        self.server_stream.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nfooXX0\r\n\r\n"
        )
        with ExpectLog(gen_log, ".*improperly terminated chunk", level=logging.INFO):
            result = yield conn.read_response(HTTPMessageDelegate())
        self.assertIs(result, False)


class ClientRoleTest(_StreamPair):
    @gen_test
    def test_request_written_and_response_read_then_stream_reused(self) -> Any:
        conn = HTTP1Connection(self.client_stream, True)
        conn.write_headers(
            RequestStartLine("POST", "/up", "HTTP/1.1"), HTTPHeaders({"Host": "example"})
        )
        conn.write(b"abc")
        conn.finish()
        head = yield self.server_stream.read_until(b"\r\n\r\n")
        self.assertIn(b"POST /up HTTP/1.1\r\n", head)
        self.assertIn(b"Transfer-Encoding: chunked", head)  # no Content-Length: chunked
        body = yield self.server_stream.read_until(b"0\r\n\r\n")
        self.assertEqual(body, b"3\r\nabc\r\n0\r\n\r\n")
        # The response, and the start of what follows it, in one write.
        self.server_stream.write(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokNEXT")
        delegate = _Collect()
        self.assertIs((yield conn.read_response(delegate)), True)
        self.assertEqual((delegate.start_line.code, b"".join(delegate.chunks)), (201, b"ok"))
        # The bytes past the response are the stream's next ones.
        self.assertEqual((yield self.client_stream.read_bytes(4)), b"NEXT")

    @gen_test
    def test_too_many_1xx(self) -> Any:
        conn = HTTP1Connection(self.client_stream, True)
        self.server_stream.write(b"HTTP/1.1 102 Processing\r\n\r\n" * (_MAX_1XX_RESPONSES + 1))
        delegate = _Collect()
        with ExpectLog(gen_log, "Malformed HTTP message.*Too many 1xx", level=logging.INFO):
            self.assertIs((yield conn.read_response(delegate)), False)
        self.assertEqual(delegate.closed, 1)

    @gen_test
    def test_body_limit_and_timeout(self) -> Any:
        params = HTTP1ConnectionParameters(max_body_size=4, body_timeout=0.05)
        conn = HTTP1Connection(self.client_stream, True, params)
        self.server_stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        with ExpectLog(gen_log, ".*Content-Length too long", level=logging.INFO):
            self.assertIs((yield conn.read_response(_Collect())), False)
        yield self.connect_pair()
        conn = HTTP1Connection(self.client_stream, True, params)
        self.server_stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab")
        with ExpectLog(gen_log, "Timeout reading body", level=logging.INFO):
            self.assertIs((yield conn.read_response(_Collect())), False)

    @gen_test
    def test_gzip_decompressed(self) -> Any:
        import gzip

        conn = HTTP1Connection(self.client_stream, True, HTTP1ConnectionParameters(decompress=True))
        body = gzip.compress(b"hello " * 1000)
        self.server_stream.write(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
            + body
        )
        # No request was written, so only the end of the stream ends this exchange.
        self.server_stream.close()
        delegate = _Collect()
        yield conn.read_response(delegate)
        self.assertEqual(b"".join(delegate.chunks), b"hello " * 1000)
        assert delegate.headers is not None
        self.assertEqual(delegate.headers["X-Consumed-Content-Encoding"], "gzip")
        self.assertNotIn("Content-Encoding", delegate.headers)


class _Hello(RequestHandler):
    def get(self) -> None:
        self.write(f"hello {self.request.remote_ip}")

    def post(self) -> None:
        self.write(b"got " + self.request.body)


class _HTTP1Server(TCPServer):
    """Tornado's way to serve HTTP from your own TCPServer."""

    def __init__(self, app: Application) -> None:
        super().__init__()
        self.app = app

    async def handle_stream(self, stream: IOStream, address: Any) -> None:
        HTTP1ServerConnection(stream).start_serving(self.app)


class ServerRoleTest(AsyncTestCase):
    def setUp(self) -> None:
        super().setUp()
        sock, self.port = bind_unused_port()
        app = Application([("/", _Hello)], log_function=lambda handler: None)
        self.server = _HTTP1Server(app)
        self.server.add_socket(sock)

    def tearDown(self) -> None:
        self.server.stop()
        super().tearDown()

    @gen_test
    def test_application_served_with_keep_alive(self) -> Any:
        client = AsyncHTTPClient(force_instance=True)
        try:
            url = f"http://127.0.0.1:{self.port}/"
            first = yield client.fetch(url)
            self.assertEqual(first.body, b"hello 127.0.0.1")
            second = yield client.fetch(url, method="POST", body=b"x" * 100000)
            self.assertEqual(second.body, b"got " + b"x" * 100000)
        finally:
            client.close()

    @gen_test
    def test_pipelined_requests_and_bad_one(self) -> Any:
        stream = IOStream(socket.socket())
        self.addCleanup(stream.close)
        yield stream.connect(("127.0.0.1", self.port))
        stream.write(
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"
        )
        for body in (b"hello 127.0.0.1", b"got hi"):
            conn = HTTP1Connection(stream, True)

            class Detaching(_Collect):
                def __init__(self, owner: HTTP1Connection) -> None:
                    super().__init__()
                    self.owner = owner

                def finish(self) -> None:
                    super().finish()
                    self.owner.detach()  # no request of ours to finish: hand the stream back

            delegate = Detaching(conn)
            yield conn.read_response(delegate)
            self.assertEqual((delegate.start_line.code, b"".join(delegate.chunks)), (200, body))
        with ExpectLog(gen_log, "Malformed HTTP message", level=logging.INFO):
            stream.write(b"NONSENSE\r\n\r\n")
            answer = yield stream.read_until_close()
        self.assertEqual(answer, b"HTTP/1.1 400 Bad Request\r\n\r\n")


def test_helpers() -> None:
    assert parse_int("42") == 42 and parse_hex_int("1f") == 31
    for bad in ("+1", "1_0", " 1", ""):
        try:
            parse_int(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
    assert not is_transfer_encoding_chunked(HTTPHeaders({"Content-Length": "1"}))
    assert is_transfer_encoding_chunked(HTTPHeaders({"Transfer-Encoding": "Chunked"}))
    for headers in (
        {"Transfer-Encoding": "gzip, chunked"},
        {"Transfer-Encoding": "chunked", "Content-Length": "1"},
    ):
        try:
            is_transfer_encoding_chunked(HTTPHeaders(headers))
        except HTTPInputError:
            continue
        raise AssertionError(headers)
