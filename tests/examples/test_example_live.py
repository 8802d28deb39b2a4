"""The demo's live page (examples/live): its event stream over a real socket, fed by the
blog and the chat as a user drives them; and the page in headless Chromium, whose
``EventSource`` reconnects by itself after the server restarts and resumes after the
last event it saw."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from examples.blog.store import Store
from examples.demo import make_app
from examples.live.app import Activity
from examples.live.app import make_app as live_app
from tornadish.httpserver import HTTPServer
from tornadish.netutil import bind_sockets

from tests.examples.test_examples_browser import chromium, open_page
from tests.support.eventstream import EventStreamClient
from tests.support.seed_services import _ensure_binary
from tests.support.servers import free_port

PASSWORD = "correct horse battery"


async def say(port: int, text: str, name: str = "demo") -> None:
    """Send a chat message over the chat's WebSocket, as the chat page does, and wait
    until the room has delivered it back."""
    async with connect(f"ws://127.0.0.1:{port}/chat/chatsocket") as ws:
        await ws.send(json.dumps({"name": name, "text": text}))
        while json.loads(await asyncio.wait_for(ws.recv(), 10))["text"] != text:
            pass  # the room's history comes first


async def publish(base_url: str, title: str) -> str:
    """Sign up as the first author and publish a post, as a user would; its path."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        await http.get("/blog/")  # the XSRF cookie
        xsrf = http.cookies["_xsrf"]
        r = await http.post(
            "/blog/auth/signup", data={"_xsrf": xsrf, "name": "ann", "password": PASSWORD}
        )
        assert r.status_code == 303, r.text
        r = await http.post(
            "/blog/compose", data={"_xsrf": xsrf, "title": title, "body": "Live from the blog."}
        )
        assert r.status_code == 303, r.text
        return str(r.headers["location"])


@pytest.mark.timeout_async(60)
async def test_the_live_stream_carries_new_posts_and_chat_messages(
    serve: Any, tmp_path: Path, store: Store
) -> None:
    srv = await serve(make_app(tmp_path, store=store))
    async with httpx.AsyncClient(base_url=srv.base_url, timeout=30) as http:
        assert 'href="/live/"' in (await http.get("/")).text
        r = await http.get("/live")
        assert (r.status_code, r.headers["location"]) == (301, "/live/")
        page = await http.get("/live/")
        assert page.status_code == 200 and "new EventSource" in page.text

    client = await EventStreamClient.open(srv.port, "/live/events")
    try:
        assert client.headers["content-type"] == "text/event-stream; charset=utf-8"
        parsed = await client.read_until(lambda p: bool(p.retry))
        assert parsed.retry == [1000] and parsed.events == []  # no activity yet
        path = await publish(srv.base_url, "Hello, live")
        await say(srv.port, "hi there")
        parsed = await client.read_until(lambda p: len(p.events) == 2, timeout=30)
    finally:
        client.close()
    post, message = parsed.events
    assert post.type == "post"
    assert json.loads(post.data) == {"title": "Hello, live", "author": "ann", "url": path}
    assert message.type == "chat"
    assert json.loads(message.data) == {"name": "demo", "text": "hi there"}
    assert int(post.last_event_id) < int(message.last_event_id)

    # A browser that reconnects after the post is given the message only; one that has
    # seen everything, nothing until the next event.
    again = await EventStreamClient.open(
        srv.port, "/live/events", {"Last-Event-ID": post.last_event_id}
    )
    try:
        parsed = await again.read_until(lambda p: len(p.events) == 1)
        assert parsed.events[0].data == message.data
    finally:
        again.close()
    current = await EventStreamClient.open(
        srv.port, "/live/events", {"Last-Event-ID": message.last_event_id}
    )
    try:
        await current.read_until(lambda p: bool(p.retry))
        await say(srv.port, "next")
        parsed = await current.read_until(lambda p: len(p.events) == 1)
        assert json.loads(parsed.events[0].data)["text"] == "next"
    finally:
        current.close()


def test_activity_ids_are_greater_than_those_of_an_earlier_run() -> None:
    earlier = Activity()
    first = earlier.record("chat", {"name": "a", "text": "1"})
    second = earlier.record("chat", {"name": "a", "text": "2"})
    assert first is not None and second is not None  # (an in-process log: ids at once)
    assert second.id > first.id
    time.sleep(0.01)  # a restart takes longer than this
    # A restarted server: a new log, whose ids are still past the old ones, so a
    # browser's old Last-Event-ID counts as "behind" and it is given the new events.
    restarted = Activity()
    new = restarted.record("chat", {"name": "b", "text": "3"})
    assert new is not None and new.id > second.id
    assert restarted.log.since(str(second.id)) == [new]


# -- in a browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium_binary() -> str:
    """The Chromium executable, installed first when possible (before any test clock
    starts), else the test is skipped."""
    return _ensure_binary(["chromium", "chromium-browser"], "chromium")


@asynccontextmanager
async def demo_server(port: int, app: Any) -> AsyncIterator[HTTPServer]:
    """The demo on ``port`` (a fixed one, so a restarted server is found again)."""
    server = HTTPServer(app)
    server.add_sockets(bind_sockets(port, "127.0.0.1"))
    await server.wait_started()
    try:
        yield server
    finally:
        server.stop()
        await asyncio.wait_for(server.close_all_connections(), 5)


def feed_texts() -> str:
    return "[...document.querySelectorAll('#feed li')].map(li => li.textContent)"


def shows(text: str) -> str:
    return f"document.getElementById('feed').innerText.includes({json.dumps(text)})"


@pytest.mark.timeout(900)  # pytest-timeout covers the fixture, which may install Chromium
@pytest.mark.timeout_async(120)
async def test_the_live_page_reconnects_by_itself_after_a_server_restart(
    tmp_path: Path, store: Store, chromium_binary: str
) -> None:
    # The events outlive the server, as they would in a shared log (Redis): what the
    # page missed while the server was down reaches it after the restart, and nothing
    # it had seen comes again.
    activity = Activity()
    port = free_port()
    async with chromium(chromium_binary, tmp_path / "profile") as devtools:
        async with demo_server(port, make_app(tmp_path, store=store, activity=activity)):
            page = await open_page(devtools, f"http://127.0.0.1:{port}/live/")
            await page.wait_for("document.body.dataset.opens === '1'", "the stream to open")
            await say(port, "before the restart")
            await page.wait_for(shows("demo: before the restart"), "the first message")
        # The server is gone (its connections closed): EventSource retries by itself.
        await page.wait_for(
            "document.getElementById('status').textContent === 'reconnecting…'",
            "the page to notice",
        )
        activity.chat_message({"name": "elsewhere", "text": "while it was down"})
        await asyncio.sleep(1.5)  # past the 1 s retry hint: a first retry finds no server
        async with demo_server(port, make_app(tmp_path, store=store, activity=activity)):
            await page.wait_for("document.body.dataset.opens === '2'", "EventSource to reconnect")
            await page.wait_for(shows("elsewhere: while it was down"), "the missed message")
            await say(port, "after the restart")
            await page.wait_for(shows("demo: after the restart"), "a new message")
            assert await page.evaluate(feed_texts()) == [
                "chatdemo: after the restart",
                "chatelsewhere: while it was down",
                "chatdemo: before the restart",
            ]
            status = await page.evaluate("document.getElementById('status').textContent")
            assert status == "live (reconnected)"


# -- error pages -----------------------------------------------------------------------------


async def test_error_pages_keep_the_live_layout(serve: Any) -> None:
    srv = await serve(live_app(prefix="/live"))
    async with httpx.AsyncClient(base_url=srv.base_url) as http:
        for path in ("/live/no/such/page", "/live/events/x"):
            r = await http.get(path)
            assert r.status_code == 404, path
            page = r.text
            assert "<title>404: Not Found · tornadish live</title>" in page
            assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
            assert '<h1><a href="/live/">Live</a></h1>' in page  # the page's own heading
            assert "#feed li{border-bottom" in page  # and its style
            assert "<p>There is no page at this address.</p>" in page
            assert '<p><a href="/live/">Back to the live page</a></p>' in page


async def test_debug_mode_still_shows_the_traceback(serve: Any) -> None:
    srv = await serve(live_app(prefix="/live", debug=True, autoreload=False))
    async with httpx.AsyncClient(base_url=srv.base_url) as http:
        r = await http.get("/live/nope")
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/plain")
        assert "HTTPError: HTTP 404: Not Found" in r.text
        # A browser gets the debug page: the example's code that raised, and the routes.
        r = await http.get("/live/nope", headers={"Accept": "text/html"})
        assert r.status_code == 404 and "<h1>404: Not Found</h1>" in r.text
        assert "examples/live/app.py, line" in r.text and "NotFoundHandler.prepare" in r.text
        assert "<td>/live/events$</td><td>examples.live.app.LiveEvents</td>" in r.text
