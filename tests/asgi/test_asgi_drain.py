"""The graceful drain under an ASGI server: the lifespan's shutdown completes
``RequestHandler.shutting_down``, waits for the handlers still running, then cancels
those left and lets them unwind before the ``on_shutdown`` hooks run (issue 17). The
adapter is driven directly, as an ASGI server drives it, so the order is exact."""

from __future__ import annotations

import asyncio
from typing import Any

from tornadish.asgi import ASGIAdapter, Message
from tornadish.web import Application, RequestHandler

EVENTS: list[str] = []


class LongPoll(RequestHandler):
    async def get(self) -> None:
        EVENTS.append("waiting")
        await self.shutting_down
        self.write({"again": True})


class Stuck(RequestHandler):
    async def get(self) -> None:
        EVENTS.append("waiting")
        try:
            await asyncio.sleep(30)
        finally:
            EVENTS.append("finally")

    def on_finish(self) -> None:
        EVENTS.append("on_finish")


class Lifespan:
    """The lifespan scope's two queues, as an ASGI server holds them."""

    def __init__(self, adapter: ASGIAdapter) -> None:
        self.incoming: asyncio.Queue[Message] = asyncio.Queue()
        self.sent: asyncio.Queue[Message] = asyncio.Queue()
        self.task = asyncio.create_task(
            adapter({"type": "lifespan"}, self.incoming.get, self._send)
        )

    async def _send(self, message: Message) -> None:
        await self.sent.put(message)

    async def event(self, kind: str) -> str:
        await self.incoming.put({"type": f"lifespan.{kind}"})
        return str((await asyncio.wait_for(self.sent.get(), 5))["type"])


def http_scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"example")],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }


async def request(adapter: ASGIAdapter, path: str) -> tuple[asyncio.Task[None], list[Message]]:
    sent: list[Message] = []
    disconnect = asyncio.Event()
    first = True

    async def receive() -> Message:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnect.wait()  # the client stays
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    return asyncio.create_task(adapter(http_scope(path), receive, send)), sent


async def test_lifespan_shutdown_answers_long_polls_before_the_hooks_run() -> None:
    EVENTS.clear()
    adapter = ASGIAdapter(Application([(r"/poll", LongPoll)]))
    adapter.on_shutdown.append(lambda: EVENTS.append("hook"))
    lifespan = Lifespan(adapter)
    assert await lifespan.event("startup") == "lifespan.startup.complete"
    calls = [await request(adapter, "/poll") for _ in range(3)]
    while EVENTS.count("waiting") < 3:
        await asyncio.sleep(0.01)

    assert await lifespan.event("shutdown") == "lifespan.shutdown.complete"
    for task, sent in calls:
        await asyncio.wait_for(task, 2)
        assert sent[0]["status"] == 200
        assert b"".join(m.get("body", b"") for m in sent) == b'{"again": true}'
    assert EVENTS[-1] == "hook"
    await lifespan.task


async def test_lifespan_shutdown_cancels_handlers_still_running_after_its_grace() -> None:
    EVENTS.clear()
    adapter = ASGIAdapter(Application([(r"/stuck", Stuck)]))
    adapter.shutdown_grace = 0.1
    adapter.on_shutdown.append(lambda: EVENTS.append("hook"))
    lifespan = Lifespan(adapter)
    assert await lifespan.event("startup") == "lifespan.startup.complete"
    calls = [await request(adapter, "/stuck") for _ in range(3)]
    while EVENTS.count("waiting") < 3:
        await asyncio.sleep(0.01)

    assert await lifespan.event("shutdown") == "lifespan.shutdown.complete"
    # Every handler unwound (finally, on_finish) before the hooks ran.
    assert EVENTS.count("finally") == 3 and EVENTS.count("on_finish") == 3, EVENTS
    assert EVENTS[-1] == "hook"
    for task, _sent in calls:
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 2)
    await lifespan.task
