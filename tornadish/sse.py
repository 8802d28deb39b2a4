"""Server-sent events: :class:`EventSourceHandler` streams them, :class:`EventLog`
keeps the recent ones so a reconnecting browser resumes where it stopped.

A browser's ``EventSource`` reads a ``text/event-stream`` response event by event and
reconnects by itself when the connection drops, sending the id of the last event it
received as ``Last-Event-ID``:

.. code-block:: python

    from tornadish.sse import EventLog, EventSourceHandler
    from tornadish.web import Application, RequestHandler

    news = EventLog(maxlen=100)

    class NewsFeed(EventSourceHandler):
        async def stream(self):
            async for ev in news.follow(self.last_event_id):
                await self.send(ev.data, event=ev.event, id=ev.id)

    class Publish(RequestHandler):
        def post(self):
            news.append({"headline": self.get_argument("headline")}, event="news")

    app = Application([(r"/news", NewsFeed), (r"/publish", Publish)])

and in the page: ``new EventSource("/news").addEventListener("news", e => ...)``.
The handler's heartbeat, send deadline and bounded queue, and how the stream ends when
the client leaves or the server shuts down, are described on
:class:`EventSourceHandler`.
"""

from __future__ import annotations

from tornadish._http.sse import encode_event
from tornadish._web.event_log import Event, EventLog
from tornadish._web.sse import EventSourceHandler

__all__ = ["Event", "EventLog", "EventSourceHandler", "encode_event"]
