"""The floor: an ``asyncio.Protocol`` driving ``h11.Connection`` with no framework.

It answers the same two routes with the same bodies and the same headers as the
framework apps (Content-Type, Content-Length, Date, Server), keeps connections alive
with ``start_next_cycle`` and is safe under pipelining (requests already buffered are
answered in order; reading stops while the transport's write buffer is full).

Run: ``python -m bench.apps.bare_h11 --port 8888`` (uvloop).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import cast
from urllib.parse import parse_qs

from bench.apps._common import announce, parse_args, run_on_uvloop, skip

try:
    import h11
except ImportError as exc:
    skip("h11", exc)

SERVER = b"bare-h11"
HTML = b"text/html; charset=UTF-8"
JSON = b"application/json; charset=UTF-8"
TEXT = b"text/plain; charset=UTF-8"
USER_RE = re.compile(rb"/user/(\d+)")
REASONS = {int(s): s.phrase.encode("ascii") for s in HTTPStatus}

_date_second = -1
_date_value = b""


def http_date() -> bytes:
    """The Date header value, formatted at most once a second."""
    global _date_second, _date_value
    now = int(time.time())
    if now != _date_second:
        _date_second = now
        _date_value = formatdate(now, usegmt=True).encode("ascii")
    return _date_value


def route(method: bytes, target: bytes) -> tuple[int, bytes, bytes]:
    """Return ``(status, content_type, body)`` for one request."""
    if method not in (b"GET", b"HEAD"):
        return 405, TEXT, b"Method Not Allowed"
    path, _, query = target.partition(b"?")
    if path == b"/":
        return 200, HTML, b"Hello, world"
    match = USER_RE.fullmatch(path)
    if match is not None:
        args = parse_qs(query.decode("latin-1"))
        if "q" not in args:
            return 400, TEXT, b"Missing argument q"
        uid = int(match.group(1))
        doc = {"id": uid, "q": args["q"][-1], "name": f"user{uid}"}
        return 200, JSON, json.dumps(doc).encode()
    return 404, TEXT, b"Not Found"


class H11Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.conn = h11.Connection(h11.SERVER)
        self.transport: asyncio.Transport | None = None
        self.request: h11.Request | None = None
        self.write_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport is not an asyncio.Transport subclass; cast, don't assert.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)
        if not self.write_paused:
            self.process()

    def eof_received(self) -> bool | None:
        self.conn.receive_data(b"")
        self.process()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self.process()

    def process(self) -> None:
        """Answer every complete request in h11's buffer, in order."""
        out: list[bytes] = []
        conn = self.conn
        try:
            while self.transport is not None and not self.write_paused:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    break
                if event is h11.PAUSED:
                    # Only reached when both sides are DONE but we did not recycle
                    # (e.g. the response is not finished); nothing else to do now.
                    break
                if isinstance(event, h11.Request):
                    self.request = event
                elif isinstance(event, h11.EndOfMessage):
                    request = self.request
                    assert request is not None
                    self.request = None
                    out.append(self.respond(request))
                    if conn.our_state is h11.MUST_CLOSE:
                        self.flush(out)
                        self.close()
                        return
                    conn.start_next_cycle()
                    if len(out) >= 64:  # bound memory under deep pipelining
                        self.flush(out)
                elif isinstance(event, h11.ConnectionClosed):
                    self.flush(out)
                    self.close()
                    return
                # h11.Data (request bodies) is ignored: our routes take none.
        except h11.RemoteProtocolError as exc:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                body = str(exc).encode()
                out.append(self.send_simple(exc.error_status_hint, TEXT, body, close=True))
            self.flush(out)
            self.close()
            return
        self.flush(out)

    def respond(self, request: h11.Request) -> bytes:
        status, content_type, body = route(request.method, request.target)
        return self.send_simple(status, content_type, body, head=request.method == b"HEAD")

    def send_simple(
        self,
        status: int,
        content_type: bytes,
        body: bytes,
        *,
        close: bool = False,
        head: bool = False,
    ) -> bytes:
        headers = [
            (b"Content-Type", content_type),
            (b"Content-Length", str(len(body)).encode("ascii")),
            (b"Date", http_date()),
            (b"Server", SERVER),
        ]
        if close:
            headers.append((b"Connection", b"close"))
        conn = self.conn
        response = h11.Response(
            status_code=status, headers=headers, reason=REASONS.get(status, b"")
        )
        data = conn.send(response) or b""
        if body and not head:
            data += conn.send(h11.Data(data=body)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
        return data

    def flush(self, out: list[bytes]) -> None:
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
        out.clear()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


async def main() -> None:
    args = parse_args(__doc__ or "")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(H11Protocol, args.host, args.port, backlog=1024)
    announce("bare-h11", args.host, args.port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    run_on_uvloop(main)
