"""A small HTTP/2 client on h2 for the tests: raw frames when a test needs them,
whole requests when it does not."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings


class StreamResult:
    """What one stream received."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.ended = asyncio.get_running_loop().create_future()
        self.reset_code: int | None = None
        self.informational: list[list[tuple[bytes, bytes]]] = []  # 1xx heads

    @property
    def status(self) -> int:
        return int(dict(self.headers)[b":status"])


class H2Client:
    """One HTTP/2 connection; a reader task dispatches what arrives."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.streams: dict[int, StreamResult] = {}
        self.events: list[Any] = []
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.auto_ack = True
        self.window_update = asyncio.Event()
        self.settings = asyncio.Event()  # the server's SETTINGS arrived
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls, port: int, ssl_context: ssl.SSLContext | None = None, settings: Any = None
    ) -> H2Client:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ssl_context, server_hostname="127.0.0.1" if ssl_context else None
        )
        self = cls(reader, writer)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self._task = asyncio.get_running_loop().create_task(self._read())
        await asyncio.wait_for(self.settings.wait(), 5)
        return self

    @classmethod
    async def upgrade(
        cls, port: int, request_head: str, body: bytes = b""
    ) -> tuple[H2Client, bytes]:
        """Send an HTTP/1.1 request with ``Upgrade: h2c`` (``request_head``: its request
        line and headers, to which the upgrade headers are added); returns the client
        and the head of the answer. After a 101 the client speaks HTTP/2 and the
        answer to that request is stream 1's; otherwise the socket is left as it is."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self = cls(reader, writer)
        settings = self.conn.initiate_upgrade_connection()
        assert settings is not None
        upgrade = "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        upgrade += f"HTTP2-Settings: {settings.decode()}\r\n\r\n"
        writer.write(request_head.encode("latin-1") + upgrade.encode() + body)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        if head.startswith(b"HTTP/1.1 101 "):
            self.streams[1] = StreamResult()
            self.flush()  # the preface and our SETTINGS, only now (RFC 7540 §3.5)
            self._task = asyncio.get_running_loop().create_task(self._read())
            await asyncio.wait_for(self.settings.wait(), 5)
        return self, head

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    async def _read(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for ev in self.conn.receive_data(data):
                    self.events.append(ev)
                    self._on_event(ev)
                self.flush()
        except (ConnectionError, h2.exceptions.ProtocolError):
            pass
        finally:
            for s in self.streams.values():
                if not s.ended.done():
                    s.ended.set_result(None)
            if not self.closed.done():
                self.closed.set_result(None)

    def _on_event(self, ev: Any) -> None:
        if isinstance(ev, h2.events.ResponseReceived):
            self.streams[ev.stream_id].headers = list(ev.headers)
        elif isinstance(ev, h2.events.InformationalResponseReceived):
            self.streams[ev.stream_id].informational.append(list(ev.headers))
        elif isinstance(ev, h2.events.DataReceived):
            self.streams[ev.stream_id].body += ev.data
            if self.auto_ack:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            s = self.streams[ev.stream_id]
            if not s.ended.done():
                s.ended.set_result(None)
        elif isinstance(ev, h2.events.StreamReset):
            reset = self.streams.get(ev.stream_id)
            if reset is not None:
                reset.reset_code = int(ev.error_code)
                if not reset.ended.done():
                    reset.ended.set_result(None)
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            self.settings.set()
        elif isinstance(ev, h2.events.WindowUpdated):
            self.window_update.set()
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev

    def start(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]] | None = None,
        end: bool = True,
    ) -> int:
        """Send a request head; returns its stream id."""
        sid = self.conn.get_next_available_stream_id()
        block = [(":method", method), (":path", path), (":scheme", "http")]
        block += [(":authority", "127.0.0.1"), *(headers or [])]
        self.streams[sid] = StreamResult()
        self.conn.send_headers(sid, block, end_stream=end)
        self.flush()
        return sid

    async def send_body(self, sid: int, body: bytes) -> None:
        """Send ``body`` on ``sid`` as the server's windows allow, then end the stream."""
        view = memoryview(body)
        while view:
            room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if room <= 0:
                self.window_update.clear()
                await asyncio.wait_for(self.window_update.wait(), 10)
                continue
            self.conn.send_data(sid, view[:room].tobytes())
            view = view[room:]
            self.flush()
            await self.writer.drain()
        self.conn.end_stream(sid)
        self.flush()

    async def request(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        timeout: float = 10.0,
    ) -> StreamResult:
        sid = self.start(method, path, headers, end=body is None)
        if body is not None:
            await self.send_body(sid, body)
        result = self.streams[sid]
        await asyncio.wait_for(asyncio.shield(result.ended), timeout)
        return result

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass
