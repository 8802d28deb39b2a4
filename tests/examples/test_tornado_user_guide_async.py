"""Tornado 6.6's user guide, run on tornadish over real sockets (issue 14), part two:
docs/guide/async.rst, coroutines.rst, queues.rst (the web spider) and templates.rst.

As in test_tornado_user_guide.py, each example is the guide's code with only ``tornado``
renamed to ``tornadish``, served on 127.0.0.1; what the guide leaves to the reader (remote
URLs, a database, ``blocking_func``) is supplied by the test and says so. Template
examples render the same files on real Tornado too, and the two pages must be identical.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import threading
import types
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import tornadish
import tornadish.web
from tornadish import gen
from tornadish.httpclient import AsyncHTTPClient
from tornadish.ioloop import IOLoop
from tornadish.web import Application, RequestHandler

from tests.support.running import ROOT
from tests.support.web import get, serve_tornado

GUIDE = Path(__file__).resolve().parent / "user_guide"
pytestmark = pytest.mark.timeout_async(20)


async def pages(serve: Any) -> Any:
    """A local stand-in for the remote URLs of the guide: /page/NAME answers "page NAME",
    /slowN waits 0.2 s."""

    class Page(RequestHandler):
        async def get(self, name):
            if name.startswith("slow"):
                await asyncio.sleep(0.2)
            self.write("page " + name)

    return await serve(Application([(r"/page/(\w+)", Page)]))


# == docs/guide/async.rst "Examples" and coroutines.rst ========================================


async def test_async_fetch_functions(serve: Any) -> None:
    from tornadish.concurrent import Future
    from tornadish.httpclient import HTTPClient

    # async.rst, "Examples": the four versions of the fetch function.
    def synchronous_fetch(url):
        http_client = HTTPClient()
        response = http_client.fetch(url)
        return response.body

    async def asynchronous_fetch(url):
        http_client = AsyncHTTPClient()
        response = await http_client.fetch(url)
        return response.body

    @gen.coroutine
    def async_fetch_gen(url):
        http_client = AsyncHTTPClient()
        response = yield http_client.fetch(url)
        raise gen.Return(response.body)

    def async_fetch_manual(url):
        http_client = AsyncHTTPClient()
        my_future: Future[bytes] = Future()
        fetch_future = http_client.fetch(url)

        def on_fetch(f):
            my_future.set_result(f.result().body)

        fetch_future.add_done_callback(on_fetch)
        return my_future

    # coroutines.rst, top.
    async def fetch_coroutine(url):
        http_client = AsyncHTTPClient()
        response = await http_client.fetch(url)
        return response.body

    srv = await pages(serve)
    url = srv.base_url + "/page/"
    assert await asynchronous_fetch(url + "a") == b"page a"
    assert await async_fetch_gen(url + "b") == b"page b"
    assert await async_fetch_manual(url + "c") == b"page c"
    assert await fetch_coroutine(url + "d") == b"page d"
    # HTTPClient runs a loop of its own: call it from a thread, as a blocking caller would.
    body = await asyncio.get_running_loop().run_in_executor(None, synchronous_fetch, url + "e")
    assert body == b"page e"


async def test_coroutines_how_to_call_a_coroutine(caplog: pytest.LogCaptureFixture) -> None:
    # coroutines.rst, "How to call a coroutine".
    async def divide(x, y):
        return x / y

    async def good_call():
        # await will unwrap the object returned by divide() and raise
        # the exception.
        await divide(1, 0)

    with pytest.raises(ZeroDivisionError):
        await good_call()
    # The IOLoop will catch the exception and print a stack trace in the logs.
    with caplog.at_level(logging.ERROR):
        IOLoop.current().spawn_callback(divide, 1, 0)
        for _ in range(100):
            await asyncio.sleep(0.005)
            if "ZeroDivisionError" in caplog.text:
                break
    assert "ZeroDivisionError" in caplog.text

    # "at the top level of a program, if the IOLoop is not yet running ... run_sync"
    # (a thread with no loop running stands for the top of a program).
    outcome: list[BaseException] = []

    def top_level():
        try:
            IOLoop.current().run_sync(lambda: divide(1, 0))
        except BaseException as e:
            outcome.append(e)

    thread = threading.Thread(target=top_level)
    thread.start()
    await asyncio.get_running_loop().run_in_executor(None, thread.join, 10)
    assert [type(e) for e in outcome] == [ZeroDivisionError]


async def test_coroutines_call_blocking_in_executor() -> None:
    calls: list[tuple[Any, bool]] = []

    # (test-side) the guide's ``blocking_func`` and ``args``.
    def blocking_func(arg):
        calls.append((arg, threading.current_thread() is threading.main_thread()))

    args = "payload"

    # coroutines.rst, "Calling blocking functions".
    async def call_blocking():
        await IOLoop.current().run_in_executor(None, blocking_func, args)

    await call_blocking()
    assert calls == [("payload", False)]


async def test_coroutines_parallelism_with_multi(serve: Any) -> None:
    from tornadish.gen import multi

    srv = await pages(serve)
    http_client = AsyncHTTPClient()
    results: dict[str, Any] = {}

    # coroutines.rst, "Parallelism" (each keeps its result for the test).
    async def parallel_fetch(url1, url2):
        resp1, resp2 = await multi([http_client.fetch(url1), http_client.fetch(url2)])
        results["pair"] = (resp1.body, resp2.body)

    async def parallel_fetch_many(urls):
        responses = await multi([http_client.fetch(url) for url in urls])
        # responses is a list of HTTPResponses in the same order
        results["many"] = [r.body for r in responses]

    async def parallel_fetch_dict(urls):
        responses = await multi({url: http_client.fetch(url) for url in urls})
        # responses is a dict {url: HTTPResponse}
        results["dict"] = {u: r.body for u, r in responses.items()}

    @gen.coroutine
    def parallel_fetch_decorated(url1, url2):
        resp1, resp2 = yield [http_client.fetch(url1), http_client.fetch(url2)]
        results["decorated"] = (resp1.body, resp2.body)

    u = [srv.base_url + "/page/" + n for n in ("slow1", "slow2", "slow3")]
    started = asyncio.get_running_loop().time()
    await parallel_fetch(u[0], u[1])
    await parallel_fetch_many(u)
    await parallel_fetch_dict(u)
    await parallel_fetch_decorated(u[0], u[1])
    # Four rounds of 0.2 s pages: each round's fetches overlap (one after the other,
    # they would take 2 s).
    assert asyncio.get_running_loop().time() - started < 1.6
    assert results == {
        "pair": (b"page slow1", b"page slow2"),
        "many": [b"page slow1", b"page slow2", b"page slow3"],
        "dict": {u[0]: b"page slow1", u[1]: b"page slow2", u[2]: b"page slow3"},
        "decorated": (b"page slow1", b"page slow2"),
    }


async def test_coroutines_interleaving_handlers(serve: Any) -> None:
    from tornadish.gen import convert_yielded

    # (test-side) the guide's ``fetch_next_chunk``: three chunks, then None.
    class Chunks(RequestHandler):
        def initialize(self):
            self.chunks = [b"one ", b"two ", b"three"]

        async def fetch_next_chunk(self):
            await asyncio.sleep(0.001)
            return self.chunks.pop(0) if self.chunks else None

    # coroutines.rst, "Interleaving": native, then decorated.
    class Native(Chunks):
        async def get(self):
            # convert_yielded() starts the native coroutine in the background.
            # This is equivalent to asyncio.ensure_future() (both work in Tornado).
            fetch_future = convert_yielded(self.fetch_next_chunk())
            while True:
                chunk = await fetch_future
                if chunk is None:
                    break
                self.write(chunk)
                fetch_future = convert_yielded(self.fetch_next_chunk())
                await self.flush()

    class Decorated(Chunks):
        @gen.coroutine
        def get(self):
            fetch_future = self.fetch_next_chunk()
            while True:
                chunk = yield fetch_future
                if chunk is None:
                    break
                self.write(chunk)
                fetch_future = self.fetch_next_chunk()
                yield self.flush()

    srv = await serve(Application([(r"/native", Native), (r"/decorated", Decorated)]))
    for path in ("/native", "/decorated"):
        r = await get(srv, path)
        assert (r.status_code, r.text) == (200, "one two three"), path
        assert r.headers["transfer-encoding"] == "chunked"  # flushed as it went


async def test_coroutines_running_in_the_background_with_gen_sleep() -> None:
    ticks: list[str] = []

    async def do_something():
        ticks.append("tick")

    # coroutines.rst, "Running in the background".
    async def minute_loop():
        while True:
            await do_something()
            await gen.sleep(60)

    async def minute_loop2():
        while True:
            nxt = gen.sleep(60)  # Start the clock.
            await do_something()  # Run while the clock is ticking.
            await nxt  # Wait for the timer to run out.

    # Coroutines that loop forever are generally started with
    # spawn_callback().
    IOLoop.current().spawn_callback(minute_loop)
    IOLoop.current().spawn_callback(minute_loop2)
    await asyncio.sleep(0.05)
    assert ticks == ["tick", "tick"]  # each ran once and now sleeps for a minute
    loops = [t for t in asyncio.all_tasks() if "minute_loop" in repr(t.get_coro())]
    assert len(loops) == 2 and not any(t.done() for t in loops)
    for task in loops:
        task.cancel()
    await asyncio.gather(*loops, return_exceptions=True)


async def test_coroutines_with_timeout(serve: Any) -> None:
    srv = await pages(serve)
    http_client = AsyncHTTPClient()
    # gen.with_timeout (docs/gen.rst), the timeout for the guide's coroutine patterns.
    with pytest.raises(gen.TimeoutError):
        await gen.with_timeout(
            timedelta(seconds=0.05), http_client.fetch(srv.base_url + "/page/slow")
        )
    response = await gen.with_timeout(
        timedelta(seconds=5), http_client.fetch(srv.base_url + "/page/a")
    )
    assert response.body == b"page a"
    assert gen.TimeoutError is tornadish.util.TimeoutError


# == docs/guide/queues.rst: the web spider (demos/webspider/webspider.py) =======================

# demos/webspider/webspider.py as the guide includes it; the test runs it as a script
# with base_url pointed at a local site instead of www.tornadoweb.org.
WEBSPIDER = """
#!/usr/bin/env python

import time
from datetime import timedelta

try:
    from HTMLParser import HTMLParser
    from urlparse import urljoin, urldefrag
except ImportError:
    from html.parser import HTMLParser
    from urllib.parse import urljoin, urldefrag

from tornadish import httpclient, gen, ioloop, queues

base_url = 'http://www.tornadoweb.org/en/stable/'
concurrency = 10


@gen.coroutine
def get_links_from_url(url):
    try:
        response = yield httpclient.AsyncHTTPClient().fetch(url)
        print('fetched %s' % url)

        html = response.body if isinstance(response.body, str) \\
            else response.body.decode(errors='ignore')
        urls = [urljoin(url, remove_fragment(new_url))
                for new_url in get_links(html)]
    except Exception as e:
        print('Exception: %s %s' % (e, url))
        raise gen.Return([])

    raise gen.Return(urls)


def remove_fragment(url):
    pure_url, frag = urldefrag(url)
    return pure_url


def get_links(html):
    class URLSeeker(HTMLParser):
        def __init__(self):
            HTMLParser.__init__(self)
            self.urls = []

        def handle_starttag(self, tag, attrs):
            href = dict(attrs).get('href')
            if href and tag == 'a':
                self.urls.append(href)

    url_seeker = URLSeeker()
    url_seeker.feed(html)
    return url_seeker.urls


@gen.coroutine
def main():
    q = queues.Queue()
    start = time.time()
    fetching, fetched = set(), set()

    @gen.coroutine
    def fetch_url():
        current_url = yield q.get()
        try:
            if current_url in fetching:
                return

            print('fetching %s' % current_url)
            fetching.add(current_url)
            urls = yield get_links_from_url(current_url)
            fetched.add(current_url)

            for new_url in urls:
                # Only follow links beneath the base URL
                if new_url.startswith(base_url):
                    yield q.put(new_url)

        finally:
            q.task_done()

    @gen.coroutine
    def worker():
        while True:
            yield fetch_url()

    q.put(base_url)

    # Start workers, then wait for the work queue to be empty.
    for _ in range(concurrency):
        worker()
    yield q.join(timeout=timedelta(seconds=300))
    assert fetching == fetched
    print('Done in %d seconds, fetched %s URLs.' % (
        time.time() - start, len(fetched)))


if __name__ == '__main__':
    io_loop = ioloop.IOLoop.current()
    io_loop.run_sync(main)
"""

SITE = {
    "": '<a href="gen.html#tornado.gen.coroutine">gen</a> <a href="web.html">web</a>'
    ' <a href="../../other/">outside</a> <a href="http://elsewhere.invalid/x">away</a>',
    "gen.html": '<a href="web.html#x">web</a> <a href="index.html">home</a>',
    "web.html": '<a href="gen.html">gen</a> <a href="missing.html">gone</a> <p>no link</p>',
    "index.html": '<a href="./">home</a>',
}


async def test_queues_web_spider_crawls_a_local_site(serve: Any) -> None:
    hits: list[str] = []

    class Page(RequestHandler):
        def get(self, name):
            hits.append(name)
            if name not in SITE:
                raise tornadish.web.HTTPError(404)
            self.write("<html><body>" + SITE[name] + "</body></html>")

    srv = await serve(Application([(r"/en/stable/(.*)", Page)]))
    base = srv.base_url + "/en/stable/"
    source = WEBSPIDER.replace("http://www.tornadoweb.org/en/stable/", base)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        source,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    expected = {base + p for p in ("", "gen.html", "web.html", "index.html", "missing.html")}
    assert set(re.findall(r"^fetching (\S+)$", text, re.M)) == expected
    assert set(re.findall(r"^fetched (\S+)$", text, re.M)) == expected - {base + "missing.html"}
    assert f"Exception: HTTP 404: Not Found {base}missing.html" in text
    assert re.search(r"^Done in \d+ seconds, fetched 5 URLs\.$", text, re.M), text
    assert sorted(hits) == sorted(["", "gen.html", "web.html", "index.html", "missing.html"])


# == docs/guide/templates.rst ==================================================================


def tornado_twin(cls: type) -> type:
    """``cls`` rebuilt on real Tornado: tornadish's RequestHandler/UIModule bases (and the
    test's own bases between) swapped for Tornado's, the class body kept."""
    import tornado.web

    swap = {
        RequestHandler: tornado.web.RequestHandler,
        tornadish.web.UIModule: tornado.web.UIModule,
    }
    if cls in swap:
        return swap[cls]
    if not issubclass(cls, (RequestHandler, tornadish.web.UIModule)):
        return cls
    body = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    return type(cls.__name__, tuple(tornado_twin(b) for b in cls.__bases__), body)


async def render_both(
    serve: Any, handlers: list[Any], paths: list[str], **settings: Any
) -> list[str]:
    """Serve ``handlers`` (built for ``tornadish.web``) on tornadish and, as twins, on real
    Tornado with the same settings; each path must answer the same status and, for a 200,
    the very same page. Returns our pages."""
    import tornado.web

    # Tornado caches loaders per template_path process-wide, autoescape setting included:
    # start each comparison from a fresh cache, as a fresh process would.
    tornado.web.RequestHandler._template_loaders.clear()
    twins = [(pattern, tornado_twin(cls), *rest) for pattern, cls, *rest in handlers]
    their_settings = dict(settings)
    if "ui_modules" in settings:
        modules = settings["ui_modules"]
        if isinstance(modules, types.ModuleType):
            modules = vars(modules)
        their_settings["ui_modules"] = {
            k: tornado_twin(v) for k, v in modules.items() if isinstance(v, type)
        }
    srv = await serve(Application(handlers, **settings))
    tsrv = await serve_tornado(twins, **their_settings)
    pages = []
    try:
        for path in paths:
            ours, theirs = await get(srv, path), await get(tsrv, path)
            assert ours.status_code == theirs.status_code, (path, ours.text, theirs.text)
            if ours.status_code == 200:
                assert ours.text == theirs.text, path
            pages.append(ours.text)
    finally:
        await tsrv.stop()
    return pages


async def test_templates_for_loop_and_escape(serve: Any) -> None:
    # templates.rst, "Template syntax": template.html and its handler.
    class MainHandler(RequestHandler):
        def get(self):
            items = ["Item 1", "Item 2", "Item 3"]
            self.render("template.html", title="My title", items=items)

    (text,) = await render_both(serve, [(r"/", MainHandler)], ["/"], template_path=str(GUIDE))
    assert "<title>My title</title>" in text
    assert re.findall(r"<li>(.*?)</li>", text) == ["Item 1", "Item 2", "Item 3"]

    # (test-side) the same template with markup in the data: autoescaped, and escape()
    # inside {{ }} escapes twice, as on Tornado.
    class Markup(RequestHandler):
        def get(self):
            self.render("template.html", title="<T & t>", items=["<b>x</b>"])

    (text,) = await render_both(serve, [(r"/", Markup)], ["/"], template_path=str(GUIDE))
    assert "<title>&lt;T &amp; t&gt;</title>" in text
    assert "<li>&amp;lt;b&amp;gt;x&amp;lt;/b&amp;gt;</li>" in text


async def test_templates_escaping_security(serve: Any) -> None:
    # templates.rst, "Security": json_encode in a script, {% raw %}, {% autoescape None %}
    # and the autoescape=None Application setting.
    class Page(RequestHandler):
        def get(self, name):
            self.render(name, text="<i>&</i>", some_object={"a": "</script>", "n": [1, 2]})

    handlers = [(r"/(\w+\.html)", Page)]
    (text,) = await render_both(serve, handlers, ["/escaping.html"], template_path=str(GUIDE))
    assert "<p>&lt;i&gt;&amp;&lt;/i&gt;</p>" in text
    # json_encode's output is autoescaped too inside {{ }} (as on Tornado, checked above).
    assert "var x = {&quot;a&quot;: &quot;&lt;\\/script&gt;&quot;, &quot;n&quot;: [1, 2]};" in text
    assert "<div><i>&</i></div>" in text
    (text,) = await render_both(serve, handlers, ["/no_autoescape.html"], template_path=str(GUIDE))
    assert "<p><i>&</i></p>" in text
    (text,) = await render_both(
        serve, handlers, ["/escaping.html"], template_path=str(GUIDE), autoescape=None
    )
    assert "<p><i>&</i></p>" in text
    assert '<script>var x = {"a": "<\\/script>", "n": [1, 2]};</script>' in text


async def test_templates_internationalized_sign_in_page(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tornadish.locale

    # The translations are process-wide: put them back as they were after the test.
    for name in ("_translations", "_supported_locales", "_use_gettext", "_default_locale"):
        monkeypatch.setattr(tornadish.locale, name, getattr(tornadish.locale, name))
    monkeypatch.setattr(tornadish.locale.Locale, "_cache", {})
    tornadish.locale.load_translations(str(GUIDE / "locale"))

    class Backend:
        def get_user_by_id(self, user_id):
            prefs = {"locale": tornadish.locale.get("es_ES")} if user_id == b"es" else {}
            return type("User", (), {"prefs": prefs})()

    # templates.rst, "Internationalization": get_user_locale from the user's prefs
    # (``self.backend`` supplied by the test; the pref holds a Locale).
    class BaseHandler(tornadish.web.RequestHandler):
        backend = Backend()

        def get_current_user(self):
            user_id = self.get_signed_cookie("user")
            if not user_id:
                return None
            return self.backend.get_user_by_id(user_id)

        def get_user_locale(self):
            if "locale" not in self.current_user.prefs:
                # Use the Accept-Language header
                return None
            return self.current_user.prefs["locale"]

    class SignIn(BaseHandler):
        def get(self):
            self.render("sign_in.html")

    app = Application(
        [(r"/signin", SignIn)], template_path=str(GUIDE), cookie_secret="s", xsrf_cookies=True
    )
    srv = await serve(app)

    def user(uid: str) -> dict[str, str]:
        signed = tornadish.web.create_signed_value("s", "user", uid).decode()
        return {"Cookie": "user=" + signed}

    es = (await get(srv, "/signin", headers=user("es"))).text
    assert "<title>FriendFeed - Entrar</title>" in es
    assert "<div>Usuario <input" in es and 'value="Entrar"/>' in es
    assert '<form action="/signin" method="post">' in es
    assert re.search(r'<input type="hidden" name="_xsrf" value="[^"]+"/>', es), es
    # No locale pref: the Accept-Language header decides.
    headers = {**user("en"), "Accept-Language": "es-ES,es;q=0.9"}
    assert "FriendFeed - Entrar" in (await get(srv, "/signin", headers=headers)).text
    headers["Accept-Language"] = "fr"
    assert "FriendFeed - Sign in" in (await get(srv, "/signin", headers=headers)).text


class FakeDb:
    """(test-side) the guide's ``self.db`` with ``query`` and ``get``."""

    entries = [
        {"id": "1", "title": "First <post>", "comments": ["a"]},
        {"id": "2", "title": "Second", "comments": []},
    ]

    def query(self, sql):
        return self.entries

    def get(self, sql, entry_id):
        return next((e for e in self.entries if e["id"] == entry_id), None)


async def test_templates_ui_module_entry(serve: Any) -> None:
    # templates.rst, "UI modules": uimodules.py ...
    class Entry(tornadish.web.UIModule):
        def render(self, entry, show_comments=False):
            return self.render_string("module-entry.html", entry=entry, show_comments=show_comments)

    uimodules = types.ModuleType("uimodules")
    uimodules.Entry = Entry  # type: ignore[attr-defined]

    # ... and the application using it.
    class HomeHandler(tornadish.web.RequestHandler):
        def get(self):
            entries = self.db.query("SELECT * FROM entries ORDER BY date DESC")  # type: ignore[attr-defined]
            self.render("home.html", entries=entries)

    class EntryHandler(tornadish.web.RequestHandler):
        def get(self, entry_id):
            entry = self.db.get("SELECT * FROM entries WHERE id = %s", entry_id)  # type: ignore[attr-defined]
            if not entry:
                raise tornadish.web.HTTPError(404)
            self.render("entry.html", entry=entry)

    HomeHandler.db = EntryHandler.db = FakeDb()  # type: ignore[attr-defined]
    settings: dict[str, Any] = {
        "ui_modules": uimodules,
    }
    handlers = [
        (r"/", HomeHandler),
        (r"/entry/([0-9]+)", EntryHandler),
    ]
    # (the Application is built by render_both, on tornadish and on Tornado)
    home, entry = await render_both(
        serve, handlers, ["/", "/entry/1"], template_path=str(GUIDE), **settings
    )
    assert re.findall(r"<h2>(.*?)</h2>", home) == ["First &lt;post&gt;", "Second"]
    assert "comments</p>" not in home
    assert "<title>First &lt;post&gt;</title>" in entry
    assert '<p class="comments">1 comments</p>' in entry
    srv = await serve(tornadish.web.Application(handlers, template_path=str(GUIDE), **settings))
    assert (await get(srv, "/entry/9")).status_code == 404


async def test_templates_ui_module_embedded_css_and_template_module(serve: Any) -> None:
    # templates.rst, "UI modules": the Entry with embedded_css (its template is
    # css_module/module-entry.html, which uses only show_comments, as the guide passes).
    class Entry(tornadish.web.UIModule):
        def embedded_css(self):
            return ".entry { margin-bottom: 1em; }"

        def render(self, entry, show_comments=False):
            return self.render_string("module-entry.html", show_comments=show_comments)

    class Page(RequestHandler):
        def get(self, name):
            self.render(name)

    (page,) = await render_both(
        serve,
        [(r"/(.+)", Page)],
        ["/page.html"],
        template_path=str(GUIDE / "css_module"),
        ui_modules={"Entry": Entry},
    )
    head, _, body = page.partition("</head>")
    # "Module CSS ... will be included once no matter how many times a module is used".
    assert head.count(".entry { margin-bottom: 1em; }") == 1 and "<style" in head
    assert re.findall(r'<div class="entry">(.*?)</div>', body) == ["no comments", "with comments"]

    # "a template file itself may be used as a module": {% module Template(...) %} with
    # set_resources.
    (text,) = await render_both(
        serve, [(r"/(.+)", Page)], ["/template_module_page.html"], template_path=str(GUIDE)
    )
    head, _, body = text.partition("</head>")
    assert head.count(".entry { margin-bottom: 1em; }") == 1
    assert body.count("template module with comments") == 2
