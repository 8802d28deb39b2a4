"""The small application most HTTPServer tests serve: hello, echo, connection info, a
sleeping handler, a streamed response and a streamed request body."""

from __future__ import annotations

import asyncio
from typing import Any

from tornadish.web import Application, RequestHandler, stream_request_body


class Hello(RequestHandler):
    def get(self) -> None:
        self.write("Hello")

    def head(self) -> None:
        self.get()


class Echo(RequestHandler):
    def post(self) -> None:
        self.write(self.request.body)

    put = post


class ConnInfo(RequestHandler):
    def get(self) -> None:
        conn: Any = self.request.connection
        self.write(
            {
                "conn": id(conn),
                "port": conn.address[1] if isinstance(conn.address, tuple) else None,
                "remote_ip": self.request.remote_ip,
                "protocol": self.request.protocol,
            }
        )


class Sleepy(RequestHandler):
    async def get(self) -> None:
        await asyncio.sleep(float(self.get_argument("t")))
        self.write(self.get_argument("n"))


class Streamer(RequestHandler):
    """Flushes ``n`` parts, so the response is chunked (HTTP/1.1) or close-delimited."""

    async def get(self) -> None:
        for i in range(int(self.get_argument("n", "3"))):
            self.write(f"part{i};")
            await self.flush()


@stream_request_body
class StreamIn(RequestHandler):
    def prepare(self) -> None:
        self.parts: list[bytes] = []

    async def data_received(self, chunk: bytes) -> None:
        self.parts.append(chunk)
        await asyncio.sleep(0)

    def put(self) -> None:
        self.write({"bytes": sum(map(len, self.parts)), "parts": len(self.parts)})


def app() -> Application:
    return Application(
        [
            (r"/", Hello),
            (r"/echo", Echo),
            (r"/info", ConnInfo),
            (r"/sleep", Sleepy),
            (r"/stream", Streamer),
            (r"/in", StreamIn),
        ]
    )
