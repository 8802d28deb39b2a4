"""A chat room: every message a client sends is fanned out to every connected client.

    python -m examples.chat [--port=8888]     then open http://localhost:8888/

Two transports share one room. Browsers with WebSockets use ``/chatsocket``; the
others (or any page opened with ``?transport=poll``) fall back to long polling, as
Tornado's chatdemo does: ``POST /a/message/new`` posts a message and
``POST /a/message/updates`` with a ``cursor`` (the last message id seen) answers at
once with newer messages, or waits until there are some (or ``poll_timeout`` passes).

Fan-out never creates a task per client per message (a room of 10,000 would otherwise
create 10,000 tasks for every line typed). WebSocket frames are written straight to each
transport in one plain loop; waiting long-poll requests each park one future, and a new
message resolves them all in the same loop. Nothing is awaited, so a client that stops
reading cannot stall the others; instead each socket's unsent output is bounded: a
client whose buffer is over ``max_buffer`` bytes misses messages (``"drop"``) or is
disconnected with 1013, "try again later" (``"close"``). Long-poll clients cannot fall
behind that way: they fetch from the history at their own pace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from collections import deque
from pathlib import Path
from typing import Any

import tornadish
from tornadish.log import enable_pretty_logging
from tornadish.web import Application, HTTPError, RequestHandler
from tornadish.websocket import WebSocketClosedError, WebSocketHandler

PAGE = (Path(__file__).parent / "index.html").read_bytes()
log = logging.getLogger("examples.chat")


class ChatRoom:
    """The connected clients, the long-poll waiters and the recent history of one room.

    Messages are JSON objects ``{"id", "name", "text"}``; ids grow by one, so a
    long-poll client's cursor is simply the last id it has seen.
    """

    def __init__(
        self, max_buffer: int = 256 * 1024, policy: str = "drop", history: int = 50
    ) -> None:
        if policy not in ("drop", "close"):
            raise ValueError("policy must be 'drop' or 'close'")
        self.members: set[ChatSocket] = set()
        # Each message is kept as (id, JSON text): encoded once, sent as is to sockets
        # and spliced into long-poll answers.
        self.history: deque[tuple[int, str]] = deque(maxlen=history)
        self.waiters: set[asyncio.Future[None]] = set()
        self.max_buffer = max_buffer
        self.policy = policy
        self.dropped = 0  # messages not delivered to slow clients
        self._last_id = 0

    def post(self, name: str, text: str) -> str:
        """Add a message from ``name`` and deliver it to everyone; returns its JSON."""
        self._last_id += 1
        payload = json.dumps({"id": self._last_id, "name": name, "text": text})
        self.history.append((self._last_id, payload))
        self.broadcast(payload)
        self._wake_pollers()
        return payload

    def broadcast(self, payload: str) -> None:
        """Send ``payload`` (a JSON text) to every WebSocket member, waiting for none."""
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

    def _wake_pollers(self) -> None:
        # Resolving a future only schedules its waiting request to resume: no new task.
        waiters, self.waiters = self.waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def since(self, cursor: int) -> list[str]:
        """The JSON texts of the messages newer than ``cursor``, oldest first."""
        return [payload for msg_id, payload in self.history if msg_id > cursor]

    def wait(self) -> asyncio.Future[None]:
        """A future resolved by the next message (cancel it with :meth:`cancel_wait`)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.add(fut)
        return fut

    def cancel_wait(self, fut: asyncio.Future[None]) -> None:
        """Stop waiting: ``fut`` leaves the room and is cancelled."""
        self.waiters.discard(fut)
        fut.cancel()


def _parse_message(name: Any, text: Any) -> tuple[str, str]:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty message")
    return (str(name or "").strip() or "anon")[:20], text[:500]


class MainHandler(RequestHandler):
    def get(self) -> None:
        # Sets the XSRF cookie; the page's script sends it back as X-XSRFToken.
        self.xsrf_token  # noqa: B018
        self.write(PAGE)


class ChatSocket(WebSocketHandler):
    def initialize(self, room: ChatRoom) -> None:
        self.room = room

    def open(self) -> None:
        for _, payload in self.room.history:
            self.write_message(payload)
        self.room.members.add(self)

    def on_message(self, message: str | bytes) -> None:
        try:
            data: Any = json.loads(message)
            name, text = _parse_message(data.get("name"), data["text"])
        except (ValueError, KeyError, TypeError, AttributeError):
            self.close(1003, "expected {name, text} JSON")
            return
        self.room.post(name, text)

    def on_close(self) -> None:
        self.room.members.discard(self)


class MessageNewHandler(RequestHandler):
    """``POST /a/message/new`` (``name``, ``text``): post a message without a socket."""

    def initialize(self, room: ChatRoom) -> None:
        self.room = room

    def post(self) -> None:
        try:
            name, text = _parse_message(self.get_argument("name", ""), self.get_argument("text"))
        except ValueError:
            raise HTTPError(400, reason="empty message") from None
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(self.room.post(name, text))


class MessageUpdatesHandler(RequestHandler):
    """``POST /a/message/updates`` (``cursor``): the messages after ``cursor``, waiting
    for the next one when there are none yet.

    Answers ``{"messages": [...]}``; an empty list after ``poll_timeout`` seconds, so
    that proxies do not cut the request (the client simply polls again).
    """

    def initialize(self, room: ChatRoom, poll_timeout: float = 25.0) -> None:
        self.room = room
        self.poll_timeout = poll_timeout
        self._waiter: asyncio.Future[None] | None = None
        self._gone = False

    async def post(self) -> None:
        try:
            cursor = int(self.get_argument("cursor", "0") or 0)
        except ValueError:
            raise HTTPError(400, reason="cursor must be a message id") from None
        messages = self.room.since(cursor)
        if not messages:
            self._waiter = self.room.wait()
            try:
                await asyncio.wait_for(self._waiter, self.poll_timeout)
            except asyncio.TimeoutError:
                self.room.waiters.discard(self._waiter)
            except asyncio.CancelledError:
                if not self._gone:
                    raise  # the request itself is being cancelled (shutdown)
                return  # on_connection_close cancelled the wait: nobody to answer
            finally:
                self._waiter = None
            messages = self.room.since(cursor)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish('{"messages": [' + ", ".join(messages) + "]}")

    def on_connection_close(self) -> None:
        # The browser navigated away or the client gave up: stop waiting for it.
        self._gone = True
        if self._waiter is not None:
            self.room.cancel_wait(self._waiter)


def make_app(
    room: ChatRoom | None = None,
    *,
    prefix: str = "",
    poll_timeout: float = 25.0,
    **settings: Any,
) -> Application:
    """The chat application; pass a :class:`ChatRoom` to choose its slow-client policy.

    ``prefix`` (``"/chat"``) mounts every route under that path, for serving the app
    next to others (``examples/demo.py``); the page finds its endpoints relative to
    its own URL.
    """
    room = room if room is not None else ChatRoom()
    args = {"room": room}
    settings.setdefault("xsrf_cookies", True)
    return Application(
        [
            (prefix + r"/", MainHandler),
            (prefix + r"/chatsocket", ChatSocket, args),
            (prefix + r"/a/message/new", MessageNewHandler, args),
            (
                prefix + r"/a/message/updates",
                MessageUpdatesHandler,
                {"room": room, "poll_timeout": poll_timeout},
            ),
        ],
        websocket_ping_interval=30,
        **settings,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--policy", choices=["drop", "close"], default="drop")
    args = parser.parse_args()
    enable_pretty_logging()

    app = make_app(ChatRoom(policy=args.policy))
    log.info("chat on http://127.0.0.1:%d/", args.port)
    tornadish.run(app, port=args.port, address="127.0.0.1")  # until Ctrl-C or SIGTERM


if __name__ == "__main__":
    main()
