"""A chat room: every message a client sends is fanned out to every connected client.

    python -m examples.chat [--port=8888]     then open http://localhost:8888/
    python -m examples.chat --broadcast=redis://localhost:6379/0 --workers=2

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

Messages travel through a :class:`~tornadish.pubsub.Broadcast`: posting publishes to
it, and one subscription per process (not per client) receives every message and fans
it out as above. ``memory://`` (the default) keeps the room in one process; with
``--broadcast=redis://...`` (or ``TORNADISH_BROADCAST``) every process on that Redis
serves the same room — ``--workers=N``, or servers on several machines — and a new
process starts with the room's recent history, replayed from Redis. Message ids are
the broadcast's, so a long-poll cursor is valid in any process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tornadish
from tornadish.log import enable_pretty_logging
from tornadish.pubsub import Broadcast, Message, PublishError, PubSubError
from tornadish.web import Application, HTTPError, RequestHandler, url
from tornadish.websocket import WebSocketClosedError, WebSocketHandler

HERE = Path(__file__).parent
log = logging.getLogger("examples.chat")


class ChatRoom:
    """The connected clients, the long-poll waiters and the recent history of one room.

    Messages are JSON objects ``{"id", "name", "text"}``, carried by ``broadcast`` (a
    :class:`~tornadish.pubsub.Broadcast` or its URL; default ``TORNADISH_BROADCAST``,
    else ``memory://``) on ``channel``; ``id`` is the broadcast's message id, so a
    long-poll client's cursor is the last id it has seen, in whichever process it asks.
    The room starts (connects, subscribes) on first use, in the serving process:
    ``await room.start()``.
    """

    def __init__(
        self,
        max_buffer: int = 256 * 1024,
        policy: str = "drop",
        history: int = 50,
        broadcast: Broadcast | str | None = None,
        channel: str = "chat",
    ) -> None:
        if policy not in ("drop", "close"):
            raise ValueError("policy must be 'drop' or 'close'")
        if broadcast is None:
            broadcast = os.environ.get("TORNADISH_BROADCAST") or "memory://"
        if isinstance(broadcast, str):
            broadcast = Broadcast(broadcast, history=history)
        self.bus = broadcast
        self.channel = channel
        self.members: set[ChatSocket] = set()
        # Each message is kept as (id, JSON text): encoded once, sent as is to sockets
        # and spliced into long-poll answers.
        self.history: deque[tuple[str, str]] = deque(maxlen=history)
        self.waiters: set[asyncio.Future[None]] = set()
        self.max_buffer = max_buffer
        self.policy = policy
        self.dropped = 0  # messages not delivered to slow clients
        # Called with each new message (a dict: id, name, text); the demo's live page
        # (examples/live) follows the room through one.
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        # Called with each message posted *in this process* (once published), where
        # ``listeners`` hear every process's: what must happen once per message.
        self.posted: list[Callable[[dict[str, Any]], None]] = []
        self.gaps = 0  # times the broadcast said messages may have been lost
        self._started: asyncio.Future[None] | None = None
        self._relay_task: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Connect the broadcast and subscribe this process to the room (once; later
        calls wait for the first). Raises :class:`~tornadish.pubsub.PubSubError` when
        the broker cannot be reached (the next call tries again)."""
        if self._relay_task is None or self._relay_task.done():
            self._started = started = asyncio.get_running_loop().create_future()
            self._relay_task = asyncio.ensure_future(self._relay(started))
        assert self._started is not None
        await asyncio.shield(self._started)

    async def _relay(self, started: asyncio.Future[None]) -> None:
        """Every message of the channel, from any process, to this process's clients.
        Runs until the loop stops (``tornadish.run`` cancels it at shutdown)."""
        try:
            await self.bus.connect()
            # after="0": the room's recent history first, so a new process (or one
            # restarted) shows late joiners what was said.
            async with self.bus.subscribe(self.channel, after="0") as sub:
                started.set_result(None)
                async for message in sub:
                    self._deliver(message)
        except Exception as e:
            if not started.done():
                started.set_exception(e)  # start()'s callers raise it
            else:
                log.exception("chat: the room's subscription failed")
        finally:
            await self.bus.disconnect()

    async def post(self, name: str, text: str) -> str:
        """Publish a message from ``name`` to everyone, in every process; returns its
        JSON. Raises :class:`~tornadish.pubsub.PublishError` when the broker is down."""
        await self.start()
        message_id = await self.bus.publish(self.channel, {"name": name, "text": text})
        message = {"id": message_id, "name": name, "text": text}
        for hook in self.posted:
            hook(message)
        return json.dumps(message)

    def _deliver(self, received: Message) -> None:
        if received.gap:
            # Some messages may be missing here (the broker restarted, or this process
            # fell behind): clients keep what they have and carry on.
            self.gaps += 1
            log.warning("chat: messages may have been lost (%s)", received.gap)
            return
        data = received.data
        message = {"id": received.id, "name": data["name"], "text": data["text"]}
        payload = json.dumps(message)
        self.history.append((message["id"], payload))
        self.broadcast(payload)
        self._wake_pollers()
        for listener in self.listeners:
            listener(message)

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

    def since(self, cursor: str) -> list[str]:
        """The JSON texts of the messages after the one whose id is ``cursor``, oldest
        first; all those kept when ``cursor`` is not among them (``"0"``, or older than
        the history: the client skips ids it has shown)."""
        found = [i for i, (msg_id, _) in enumerate(self.history) if msg_id == cursor]
        start = found[-1] + 1 if found else 0
        return [payload for _, payload in list(self.history)[start:]]

    def wait(self) -> asyncio.Future[None]:
        """A future resolved by the next message (cancel it with :meth:`cancel_wait`)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.add(fut)
        return fut

    def cancel_wait(self, fut: asyncio.Future[None]) -> None:
        """Stop waiting: ``fut`` leaves the room and is cancelled."""
        self.waiters.discard(fut)
        fut.cancel()


# A broadcast's message id: "17" (memory://) or "1712345678901-0" (a Redis Stream id).
_MESSAGE_ID = re.compile(r"\A[0-9]{1,20}(-[0-9]{1,20})?\Z")


def _parse_message(name: Any, text: Any) -> tuple[str, str]:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty message")
    return (str(name or "").strip() or "anon")[:20], text[:500]


class ChatHandler(RequestHandler):
    """The chat's page and endpoints: their error pages are in the chat's layout."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """``templates/error.html``, so a 404 or a 503 still looks like the chat. In
        debug mode an exception shows the traceback instead, as does a failure of the
        layout itself."""
        if self.settings.get("serve_traceback") and "exc_info" in kwargs:
            super().write_error(status_code, **kwargs)
            return
        if status_code == 404:
            message = "There is no page at this address."
        elif status_code == 503:
            message = "The chat is unavailable at the moment; please try again soon."
        elif status_code < 500:
            message = "The request could not be understood."
        else:
            message = "Something went wrong on our side; please try again."
        try:
            # The reason is the HTTP phrase ("Not Found") or HTTPError's reason=.
            self.render("error.html", status_code=status_code, reason=self._reason, message=message)
        except Exception:  # raised while rendering, before anything was written
            log.exception("Could not render the error page")
            super().write_error(status_code, **kwargs)


class NotFoundHandler(ChatHandler):
    """Every path the chat has no route for: its 404 page, in its layout."""

    def prepare(self) -> None:
        raise HTTPError(404)

    def check_xsrf_cookie(self) -> None:
        pass  # a POST to an unknown path is a 404, not an XSRF 403 (as Tornado's)


class MainHandler(ChatHandler):
    def get(self) -> None:
        # Sets the XSRF cookie; the page's script sends it back as X-XSRFToken.
        self.xsrf_token  # noqa: B018
        self.render("index.html")


async def _start(room: ChatRoom) -> None:
    try:
        await room.start()
    except PubSubError as e:
        raise HTTPError(503, reason="chat unavailable") from e


class ChatSocket(WebSocketHandler):
    def initialize(self, room: ChatRoom) -> None:
        self.room = room

    async def prepare(self) -> None:
        await _start(self.room)

    def open(self) -> None:
        for _, payload in self.room.history:
            self.write_message(payload)
        self.room.members.add(self)

    async def on_message(self, message: str | bytes) -> None:
        try:
            data: Any = json.loads(message)
            name, text = _parse_message(data.get("name"), data["text"])
        except (ValueError, KeyError, TypeError, AttributeError):
            self.close(1003, "expected {name, text} JSON")
            return
        try:
            await self.room.post(name, text)
        except PublishError:
            self.close(1013, "chat unavailable, try again later")

    def on_close(self) -> None:
        self.room.members.discard(self)


class MessageNewHandler(ChatHandler):
    """``POST /a/message/new`` (``name``, ``text``): post a message without a socket."""

    def initialize(self, room: ChatRoom) -> None:
        self.room = room

    async def prepare(self) -> None:
        await _start(self.room)

    async def post(self) -> None:
        try:
            name, text = _parse_message(self.get_argument("name", ""), self.get_argument("text"))
        except ValueError:
            raise HTTPError(400, reason="empty message") from None
        try:
            payload = await self.room.post(name, text)
        except PublishError:
            raise HTTPError(503, reason="chat unavailable") from None
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(payload)


class MessageUpdatesHandler(ChatHandler):
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

    async def prepare(self) -> None:
        await _start(self.room)

    async def post(self) -> None:
        cursor = self.get_argument("cursor", "0") or "0"
        if not _MESSAGE_ID.match(cursor):
            raise HTTPError(400, reason="cursor must be a message id")
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
    its own URL. Error pages (an unknown path's 404 included) are in the page's layout.
    """
    room = room if room is not None else ChatRoom()
    args = {"room": room}
    settings.setdefault("xsrf_cookies", True)
    settings.setdefault("template_path", str(HERE / "templates"))
    settings.setdefault("default_handler_class", NotFoundHandler)  # 404s in the layout
    return Application(
        [
            url(prefix + r"/", MainHandler, name="chat"),
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
    parser.add_argument(
        "--broadcast",
        default=os.environ.get("TORNADISH_BROADCAST") or "memory://",
        help="memory:// (one process) or redis://host:port/db (default: "
        "$TORNADISH_BROADCAST, else memory://)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    args = parser.parse_args()
    enable_pretty_logging()
    if args.workers != 1 and args.broadcast.startswith("memory:"):
        log.warning("with memory:// each worker has a room of its own: use redis://")

    # The Broadcast is made here and connected in each worker, on first use.
    app = make_app(ChatRoom(policy=args.policy, broadcast=args.broadcast))
    log.info("chat on http://127.0.0.1:%d/ (broadcast %s)", args.port, args.broadcast)
    tornadish.run(app, port=args.port, address="127.0.0.1", workers=args.workers)


if __name__ == "__main__":
    main()
