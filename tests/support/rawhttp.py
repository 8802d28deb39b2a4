"""A tiny HTTP/1.1 client over asyncio streams for server tests.

Deliberately independent of h11 (the server's engine): the response parser below is
written from RFC 9112 so a bug shared by h11's client and server halves cannot hide.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import socket
import time
from dataclasses import dataclass, field

import pytest


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.headers_all(name)
        return values[0] if values else None

    def headers_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for n, v in self.headers if n.lower() == lname]


class RawConn:
    """One client connection: write raw bytes, read parsed responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(
        cls, port: int, *, rcvbuf: int | None = None, host: str = "127.0.0.1"
    ) -> RawConn:
        if rcvbuf is None:
            reader, writer = await asyncio.open_connection(host, port)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
            # A small reader limit too, so the StreamReader itself does not slurp.
            reader, writer = await asyncio.open_connection(sock=sock, limit=rcvbuf)
        return cls(reader, writer)

    @property
    def local_port(self) -> int:
        return int(self.writer.get_extra_info("sockname")[1])

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def send_drain(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def half_close(self) -> None:
        self.writer.write_eof()

    def close(self) -> None:
        self.writer.close()

    async def response(self, *, head: bool = False, timeout: float = 3.0) -> Response:
        """Read one response; ``head=True`` for an answer to HEAD (no body)."""
        return await asyncio.wait_for(self._response(head), timeout)

    async def _response(self, head: bool) -> Response:
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw[:-4].split(b"\r\n")
        version, status, *rest = lines[0].decode("latin-1").split(" ", 2)
        resp = Response(version, int(status), rest[0] if rest else "")
        for line in lines[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            assert sep, f"malformed response header line {line!r}"
            assert name == name.strip(), f"whitespace in header name {line!r}"
            resp.headers.append((name, value.strip()))
        if head or resp.status in (204, 304) or 100 <= resp.status < 200:
            return resp
        te = resp.header("Transfer-Encoding")
        cl = resp.headers_all("Content-Length")
        if te is not None:
            assert te.lower() == "chunked", te
            assert not cl, "both Transfer-Encoding and Content-Length in a response"
            resp.body = await self._chunked()
        elif cl:
            assert len(set(cl)) == 1, cl
            resp.body = await self.reader.readexactly(int(cl[0]))
        else:
            resp.body = await self.reader.read()  # close-delimited
        return resp

    async def _chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            line = await self.reader.readuntil(b"\r\n")
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            assert await self.reader.readexactly(2) == b"\r\n"

    async def read_until_eof(self, timeout: float = 3.0) -> bytes:
        try:
            return await asyncio.wait_for(self.reader.read(), timeout)
        except ConnectionResetError:
            return b""

    async def is_closed(self, timeout: float = 1.0) -> bool:
        """True if the server closes (EOF or reset) within ``timeout`` with nothing more
        to read; False on timeout. Raises if unexpected bytes arrive."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except asyncio.TimeoutError:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        assert data == b"", f"unexpected bytes from the server: {data[:200]!r}"
        return True


def request(
    method: str = "GET",
    target: str = "/",
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    body: bytes = b"",
    version: str = "HTTP/1.1",
) -> bytes:
    """Serialize a request; adds ``Host`` and (for a body) ``Content-Length``."""
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {n.lower() for n, _ in items}
    if "host" not in names and version == "HTTP/1.1":
        items.insert(0, ("Host", "127.0.0.1"))
    if body and "content-length" not in names and "transfer-encoding" not in names:
        items.append(("Content-Length", str(len(body))))
    head = f"{method} {target} {version}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in items)
    return head.encode("latin-1") + b"\r\n" + body


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"


def assert_logged(caplog: pytest.LogCaptureFixture, status: int, fragment: str = "") -> None:
    """A ``tornadish.general`` line reports the malformed request with ``status``."""
    for rec in caplog.records:
        if rec.name != "tornadish.general":
            continue
        msg = rec.getMessage()
        if f"({status})" in msg and fragment.lower() in msg.lower():
            return
    lines = [f"{r.name}: {r.getMessage()}" for r in caplog.records]
    raise AssertionError(f"no tornadish.general log line with ({status}) {fragment!r}: {lines}")


def capture_general(caplog: pytest.LogCaptureFixture) -> None:
    # DEBUG: a client that leaves mid-request is logged at that level (as Tornado, which
    # says nothing, nearly does).
    caplog.set_level(logging.DEBUG, logger="tornadish.general")


def assert_own_answer(resp: Response) -> None:
    """``resp`` is what ``answers.error_answer`` writes for its status."""
    assert resp.body == b""
    if resp.status == 400:
        assert resp.headers == []
        return
    names = [name.lower() for name, _ in resp.headers]
    assert names == ["date", "server", "content-length", "connection"], resp.headers
    date = resp.header("Date")
    assert date is not None
    sent = email.utils.parsedate_to_datetime(date)
    assert abs(sent.timestamp() - time.time()) < 5
    assert resp.header("Server") == "tornadish/0.1"
    assert resp.header("Content-Length") == "0"
    assert resp.header("Connection") == "close"
