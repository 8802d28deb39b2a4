"""A live page fed by server-sent events: new blog posts and chat messages as they happen.

    python -m examples.demo      then open http://127.0.0.1:8888/live/

``GET /live/events`` is an :class:`~tornadish.sse.EventSourceHandler` that follows an
:class:`~tornadish.sse.EventLog`: the demo's :class:`Activity`, which the blog and the
chat room feed (``on_publish``, ``ChatRoom.listeners``). The page reads it with the
browser's ``EventSource``, which reconnects by itself when the connection drops — the
server restarting, say — and then sends the id of the last event it received
(``Last-Event-ID``), so the stream resumes right after it: nothing missed, nothing twice.

Ids across restarts: an in-memory log starts afresh with the process, so
:meth:`Activity.record` takes ids from the clock (microseconds), greater than those of
an earlier run. A browser coming back with an id from before the restart is
then behind everything the new log holds, and is given all of it.

Several processes (``TORNADISH_BROADCAST=redis://...``, ``--workers``, or several
machines): the activity then goes through a :class:`~tornadish.pubsub.Broadcast`
channel (``live``), which each event is published to once, by the process where it
happened, and which every process's stream follows. Its ids are the Redis Stream's, so a
browser resumes after ``Last-Event-ID`` in whichever process it reaches, and after any
of them restarts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from tornadish.pubsub import Broadcast
from tornadish.sse import Event, EventLog, EventSourceHandler
from tornadish.web import Application, HTTPError, RequestHandler, url

HERE = Path(__file__).parent
log = logging.getLogger("examples.live")


class Activity:
    """What happened lately on the site, as events (``post``, ``chat``): in an
    :class:`~tornadish.sse.EventLog` of the last ``maxlen`` (one process), or on the
    ``channel`` of ``broadcast`` when one is given (several processes; see the module's
    notes)."""

    def __init__(
        self, maxlen: int = 100, broadcast: Broadcast | None = None, channel: str = "live"
    ) -> None:
        self.log = EventLog(maxlen)
        self.bus = broadcast
        self.channel = channel
        # Events to publish, in order, by one task (see record()).
        self._outbox: asyncio.Queue[tuple[str, dict[str, Any]]] | None = None

    def record(self, event: str, data: dict[str, Any]) -> Event | None:
        """Add an event. In one process its id is the time in microseconds (see the
        module's notes), or one more than the last id when events come faster than
        that; with a broadcast it is published (in the order recorded) and the id is
        the broadcast's (None is returned)."""
        if self.bus is None:
            now_us = time.time_ns() // 1000
            return self.log.append(data, event=event, id=max(self.log.last_id + 1, now_us))
        if self._outbox is None:
            self._outbox = asyncio.Queue()
            asyncio.get_running_loop().create_task(self._publish_all(self._outbox))
        self._outbox.put_nowait((event, data))
        return None

    async def _publish_all(self, outbox: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
        assert self.bus is not None
        await self.bus.connect()
        while True:
            event, data = await outbox.get()
            try:
                await self.bus.publish(self.channel, {"event": event, "data": data})
            except Exception:
                log.exception("live: an event could not be published")

    def post_published(self, post: dict[str, Any]) -> None:
        """The blog's ``on_publish``: a post with ``title``, ``author`` and ``url``."""
        self.record("post", {"title": post["title"], "author": post["author"], "url": post["url"]})

    def chat_message(self, message: dict[str, Any]) -> None:
        """A ``ChatRoom`` hook: a message with ``name`` and ``text`` (with a broadcast,
        called only in the process the message was posted to)."""
        self.record("chat", {"name": message["name"], "text": message["text"]})


class LiveHandler(RequestHandler):
    """The live app's pages: their errors are in its layout (``templates/error.html``)."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """The page in the layout; in debug mode an exception shows the traceback
        instead, as does a failure of the layout itself."""
        if self.settings.get("serve_traceback") and "exc_info" in kwargs:
            super().write_error(status_code, **kwargs)
            return
        if status_code == 404:
            message = "There is no page at this address."
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


class NotFoundHandler(LiveHandler):
    """Every path the app has no route for: its 404 page, in its layout."""

    def prepare(self) -> None:
        raise HTTPError(404)


class PageHandler(LiveHandler):
    def get(self) -> None:
        self.render("index.html")


class LiveEvents(EventSourceHandler):
    """The activity as an event stream: what the client has not seen, then what comes."""

    def initialize(self, activity: Activity, retry: int) -> None:
        self.activity = activity
        self.retry = retry

    async def stream(self) -> None:
        # How soon a browser comes back when the connection drops (its own default is
        # a few seconds).
        await self.send(None, retry=self.retry)
        bus = self.activity.bus
        if bus is None:
            async for ev in self.activity.log.follow(self.last_event_id):
                await self.send(ev.data, event=ev.event, id=ev.id)
            return
        await bus.connect()
        # after=: what this browser has not seen, from the Stream, then live; "0" (all
        # kept) for a first visit.
        after = self.last_event_id or "0"
        async with bus.subscribe(self.activity.channel, after=after) as sub:
            async for message in sub:
                if message.gap:
                    continue  # some events may be missing: the page carries on
                body = message.data
                await self.send(body["data"], event=body["event"], id=message.id)


def make_app(
    activity: Activity | None = None, *, prefix: str = "", retry: int = 1000, **settings: Any
) -> Application:
    """The live page (``prefix + "/"``) and its event stream (``prefix + "/events"``),
    following ``activity``; ``retry`` is the browsers' reconnection delay (ms). Error
    pages (an unknown path's 404 included) are in the page's layout."""
    args = {"activity": activity if activity is not None else Activity(), "retry": retry}
    settings.setdefault("template_path", str(HERE / "templates"))
    settings.setdefault("default_handler_class", NotFoundHandler)  # 404s in the layout
    return Application(
        [
            url(prefix + r"/", PageHandler, name="live"),
            (prefix + r"/events", LiveEvents, args),
        ],
        **settings,
    )
