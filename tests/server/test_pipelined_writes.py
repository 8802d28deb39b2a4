"""Pipelined requests read together are answered with one write (issue 15): the server
protocol driven with a transport that records its writes. No sockets."""

from __future__ import annotations

from tornadish.httpserver import HTTPServer
from tornadish.web import Application, RequestHandler

from tests.support.transports import RecordingTransport


class _Hello(RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


async def test_pipelined_requests_in_one_read_get_one_write() -> None:
    proto = HTTPServer(Application([("/", _Hello)]))._make_protocol()
    transport = RecordingTransport()
    proto.connection_made(transport)
    proto.data_received(GET * 8)
    assert len(transport.writes) == 1
    answers = transport.writes[0].split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert len(answers) == 8 and all(a.endswith(b"Hello, world") for a in answers)
    # A lone request is one write too, and nothing is held back after it.
    proto.data_received(GET)
    assert len(transport.writes) == 2 and transport.writes[1].endswith(b"Hello, world")


async def test_an_error_after_pipelined_answers_keeps_their_order() -> None:
    proto = HTTPServer(Application([("/", _Hello)]))._make_protocol()
    transport = RecordingTransport()
    proto.connection_made(transport)
    proto.data_received(GET * 2 + b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n")
    out = b"".join(transport.writes)
    assert out.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert out.endswith(b"HTTP/1.1 400 Bad Request\r\n\r\n")
