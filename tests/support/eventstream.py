"""Reading server-sent events in tests: a raw-socket client that sees each chunk of an
event-stream response as it arrives, and a parser written from the HTML standard's
"Parsing an event stream" (what a browser's ``EventSource`` does), independent of the
server's encoder."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.support.rawhttp import RawConn, request


@dataclass
class SSEvent:
    type: str
    data: str
    last_event_id: str


@dataclass
class ParsedStream:
    events: list[SSEvent] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)


_LINE = re.compile(r"\r\n|\r|\n")


def parse_event_stream(raw: bytes) -> ParsedStream:
    """Interpret ``raw`` as a browser does; an event not yet ended by an empty line is
    not dispatched (as at the end of a stream)."""
    out = ParsedStream()
    text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff")
    lines = _LINE.split(text)
    lines.pop()  # the part after the last line break is not a line yet
    data, event_type, last_id = "", "", ""
    for line in lines:
        if line == "":
            if data:
                out.events.append(SSEvent(event_type or "message", data[:-1], last_id))
            data, event_type = "", ""
            continue
        if line.startswith(":"):
            out.comments.append(line[1:])
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            event_type = value
        elif name == "data":
            data += value + "\n"
        elif name == "id":
            if "\0" not in value:
                last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            out.retry.append(int(value))
    return out


class EventStreamClient:
    """One ``GET`` of an event stream over a raw socket, read chunk by chunk."""

    def __init__(self, conn: RawConn) -> None:
        self.conn = conn
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.ended = False  # the chunked body's last chunk arrived

    @classmethod
    async def open(
        cls,
        port: int,
        target: str = "/",
        headers: dict[str, str] | None = None,
        *,
        rcvbuf: int | None = None,
        read_head: bool = True,
    ) -> EventStreamClient:
        conn = await RawConn.open(port, rcvbuf=rcvbuf)
        conn.send(request("GET", target, headers))
        client = cls(conn)
        if read_head:
            await client.read_head()
        return client

    async def read_head(self, timeout: float = 5.0) -> None:
        raw = await asyncio.wait_for(self.conn.reader.readuntil(b"\r\n\r\n"), timeout)
        lines = raw[:-4].decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            # (A repeated header is joined, as HTTP allows: an ASGI server adds its own
            # Server beside ours.)
            previous = self.headers.get(name.lower())
            value = value.strip()
            self.headers[name.lower()] = value if previous is None else f"{previous}, {value}"

    async def read_chunk(self, timeout: float = 5.0) -> bytes:
        """The next chunk of the body (b"" at its end)."""
        reader = self.conn.reader
        line = await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout)
        size = int(line.split(b";")[0], 16)
        if size == 0:
            assert await asyncio.wait_for(reader.readexactly(2), timeout) == b"\r\n"
            self.ended = True
            return b""
        chunk = await asyncio.wait_for(reader.readexactly(size + 2), timeout)
        assert chunk.endswith(b"\r\n")
        self.body += chunk[:-2]
        return chunk[:-2]

    async def read_until(
        self, done: Callable[[ParsedStream], bool], timeout: float = 5.0
    ) -> ParsedStream:
        """Read until ``done(parsed body)`` holds; fails on timeout or the body's end."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            parsed = parse_event_stream(self.body)
            if done(parsed):
                return parsed
            assert not self.ended, f"the stream ended first: {self.body!r}"
            await self.read_chunk(max(deadline - loop.time(), 0.001))

    async def read_to_end(self, timeout: float = 5.0) -> ParsedStream:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.ended:
            await self.read_chunk(max(deadline - loop.time(), 0.001))
        return parse_event_stream(self.body)

    def close(self) -> None:
        self.conn.close()
