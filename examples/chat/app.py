"""A chat room: every message a client sends is fanned out to every connected client.

    python -m examples.chat [--port=8888]     then open http://localhost:8888/

The fan-out is one plain loop: each connection's frame is written straight to its
transport, with no task per client per message (a room of 10,000 would otherwise
create 10,000 tasks for every line typed). Nothing is awaited, so a client that stops
reading cannot stall the others; instead each connection's unsent output is bounded:
a client whose buffer is over ``max_buffer`` bytes misses messages (``"drop"``) or is
disconnected with 1013, "try again later" (``"close"``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from collections import deque
from pathlib import Path
from typing import Any

from tornadish.log import enable_pretty_logging
from tornadish.web import Application, RequestHandler
from tornadish.websocket import WebSocketClosedError, WebSocketHandler

PAGE = (Path(__file__).parent / "index.html").read_bytes()
log = logging.getLogger("examples.chat")


class ChatRoom:
    """The connected clients and the recent history of one room."""

    def __init__(self, max_buffer: int = 256 * 1024, policy: str = "drop") -> None:
        if policy not in ("drop", "close"):
            raise ValueError("policy must be 'drop' or 'close'")
        self.members: set[ChatSocket] = set()
        self.history: deque[str] = deque(maxlen=50)
        self.max_buffer = max_buffer
        self.policy = policy
        self.dropped = 0  # messages not delivered to slow clients

    def broadcast(self, payload: str) -> None:
        """Send ``payload`` (a JSON text) to every member, without waiting for any."""
        self.history.append(payload)
        for member in list(self.members):
            conn = member.ws_connection
            if conn is None:
                continue
            if conn.buffered_amount > self.max_buffer:
                if self.policy == "close":
                    member.close(1013, "too slow")
                    self.members.discard(member)
                else:
                    self.dropped += 1
                continue
            try:
                # The returned future is for writers that want to wait for drain;
                # fan-out deliberately does not.
                conn.send_message(payload)
            except WebSocketClosedError:
                self.members.discard(member)


class MainHandler(RequestHandler):
    def get(self) -> None:
        self.write(PAGE)


class ChatSocket(WebSocketHandler):
    def initialize(self, room: ChatRoom) -> None:  # type: ignore[override]
        self.room = room

    def open(self) -> None:
        for payload in self.room.history:
            self.write_message(payload)
        self.room.members.add(self)

    def on_message(self, message: str | bytes) -> None:
        try:
            data: Any = json.loads(message)
            name = str(data.get("name") or "anon")[:20]
            text = str(data["text"])[:500]
        except (ValueError, KeyError, TypeError, AttributeError):
            self.close(1003, "expected {name, text} JSON")
            return
        self.room.broadcast(json.dumps({"name": name, "text": text}))

    def on_close(self) -> None:
        self.room.members.discard(self)


def make_app(room: ChatRoom | None = None, **settings: Any) -> Application:
    """The chat application; pass a :class:`ChatRoom` to choose its slow-client policy."""
    room = room if room is not None else ChatRoom()
    return Application(
        [(r"/", MainHandler), (r"/chatsocket", ChatSocket, {"room": room})],
        websocket_ping_interval=30,
        **settings,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--policy", choices=["drop", "close"], default="drop")
    args = parser.parse_args()
    enable_pretty_logging()

    async def serve() -> None:
        make_app(ChatRoom(policy=args.policy)).listen(args.port)
        log.info("chat on http://localhost:%d/", args.port)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
