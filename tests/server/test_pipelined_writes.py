"""Pipelined requests read together are answered with one write, and the answers of one
round of the loop's I/O callbacks leave together after it (issue 15): the server protocol
driven with a transport that records its writes. No sockets."""

from __future__ import annotations

import asyncio

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
    await asyncio.sleep(0)
    assert len(transport.writes) == 1
    answers = transport.writes[0].split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert len(answers) == 8 and all(a.endswith(b"Hello, world") for a in answers)
    # A lone request is one write too, and nothing is held back after it.
    proto.data_received(GET)
    await asyncio.sleep(0)
    assert len(transport.writes) == 2 and transport.writes[1].endswith(b"Hello, world")


async def test_an_error_after_pipelined_answers_keeps_their_order() -> None:
    proto = HTTPServer(Application([("/", _Hello)]))._make_protocol()
    transport = RecordingTransport()
    proto.connection_made(transport)
    proto.data_received(GET * 2 + b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n")
    await asyncio.sleep(0)
    out = b"".join(transport.writes)
    assert out.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert out.endswith(b"HTTP/1.1 400 Bad Request\r\n\r\n")


async def test_answers_of_one_round_leave_together_after_it() -> None:
    server = HTTPServer(Application([("/", _Hello)]))
    protos, transports = [], []
    for _ in range(3):
        proto = server._make_protocol()
        transport = RecordingTransport()
        proto.connection_made(transport)
        protos.append(proto)
        transports.append(transport)
    for proto in protos:  # one round: every connection reads before any answer leaves
        proto.data_received(GET)
    assert [len(t.writes) for t in transports] == [0, 0, 0]
    await asyncio.sleep(0)
    assert [len(t.writes) for t in transports] == [1, 1, 1]
    assert all(t.writes[0].endswith(b"Hello, world") for t in transports)


async def test_eof_sends_the_answer_at_once() -> None:
    # The transport may close as soon as eof_received returns: nothing may wait.
    proto = HTTPServer(Application([("/", _Hello)]))._make_protocol()
    transport = RecordingTransport()
    proto.connection_made(transport)
    proto.data_received(GET)
    proto.eof_received()
    assert len(transport.writes) == 1 and transport.writes[0].endswith(b"Hello, world")


async def test_a_close_sends_a_waiting_answer_first() -> None:
    proto = HTTPServer(Application([("/", _Hello)]))._make_protocol()
    transport = RecordingTransport()
    proto.connection_made(transport)
    proto.data_received(GET + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    # The second answer closes the connection: both went out before the close.
    assert transport.closed
    out = b"".join(transport.writes)
    assert out.count(b"Hello, world") == 2
    await asyncio.sleep(0)
    assert b"".join(transport.writes) == out  # and nothing is written twice
