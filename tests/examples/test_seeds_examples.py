"""The rest of the seed examples (examples/seeds/, see its README.md), over real sockets.

In-process examples are served with the ``serve`` fixture (and, where they need no
service, compared with the very same source run on real Tornado); ``__main__``-style
scripts run in a subprocess on a free port. Redis and PostgreSQL examples run against
real throwaway servers (tests/support/seed_services.py); MongoDB ones on mongomock-motor.
Examples that need a piece of tornadish still being written are skipped, naming it.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import importlib.util
import json
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import tornadish.web
from tornadish.web import Application, RequestHandler

from tests.support.running import Running, run_example
from tests.support.seed_services import Service, postgres_server, redis_server

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # examples/ is a package at the project root
SEEDS = ROOT / "examples" / "seeds"
SEED_TEXTS = ROOT.parent / "shared" / "seeds"
# Why a seed test is skipped when its database client is missing.
NEEDS_SERVICES = "needs the seed examples' clients: pip install -e '.[test-services]'"


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


HAS_RENDER = hasattr(RequestHandler, "render")
HAS_UIMODULE = hasattr(tornadish.web, "UIModule")
HAS_STATIC = hasattr(tornadish.web, "StaticFileHandler")
HAS_LOCALE = _has_module("tornadish.locale")
HAS_PLATFORM_ASYNCIO = _has_module("tornadish.platform.asyncio")

needs_render = pytest.mark.skipif(not HAS_RENDER, reason="needs RequestHandler.render (templates)")
needs_uimodule = pytest.mark.skipif(
    not (HAS_RENDER and HAS_UIMODULE), reason="needs tornadish.web.UIModule (templates)"
)
needs_static = pytest.mark.skipif(
    not (HAS_RENDER and HAS_STATIC and HAS_UIMODULE),
    reason="needs StaticFileHandler/static_url (static files) and UI modules (templates)",
)
needs_locale = pytest.mark.skipif(
    not (HAS_RENDER and HAS_LOCALE), reason="needs tornadish.locale (templates/locale)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def example(name: str) -> types.ModuleType:
    return importlib.import_module(f"examples.seeds.{name}")


# -- comparing with real Tornado ---------------------------------------------------------------


def load_as_tornado(module_name: str) -> types.ModuleType:
    """The example's source with ``tornadish`` renamed back to ``tornado``."""
    path = SEEDS / f"{module_name}.py"
    source = path.read_text().replace("tornadish", "tornado")
    module = types.ModuleType(f"tornado_twin_{module_name}")
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


async def fetch_both(
    serve: Any,
    module_name: str,
    requests: list[tuple[str, str, dict[str, Any]]],
    app_attr: str = "app",
) -> list[tuple[httpx.Response, httpx.Response]]:
    """Serve the example on tornadish and on Tornado; run each (method, path, kwargs)
    on both and return the response pairs."""
    import tornado.httpserver
    import tornado.netutil

    ours_mod = example(module_name)
    theirs_mod = load_as_tornado(module_name)
    srv = await serve(getattr(ours_mod, app_attr))
    tserver = tornado.httpserver.HTTPServer(getattr(theirs_mod, app_attr))
    socks = tornado.netutil.bind_sockets(0, "127.0.0.1")
    tserver.add_sockets(socks)
    tbase = f"http://127.0.0.1:{socks[0].getsockname()[1]}"
    pairs = []
    try:
        async with httpx.AsyncClient() as c:
            for method, path, kwargs in requests:
                ours = await c.request(method, srv.base_url + path, **kwargs)
                theirs = await c.request(method, tbase + path, **kwargs)
                pairs.append((ours, theirs))
    finally:
        tserver.stop()
        await tserver.close_all_connections()
    return pairs


def same_but_modules(
    pair: tuple[httpx.Response, httpx.Response], escaped: str, raw: str
) -> httpx.Response:
    """Like :func:`same`, except for one documented difference: ``{{ modules.X() }}``
    inserts the module's HTML as markup on tornadish, where Tornado escapes it."""
    ours, theirs = pair
    assert (ours.status_code, theirs.status_code) == (200, 200)
    assert escaped in theirs.text and raw in ours.text
    assert ours.text == theirs.text.replace(escaped, raw)
    return ours


def same(pair: tuple[httpx.Response, httpx.Response], status: int) -> httpx.Response:
    ours, theirs = pair
    assert (ours.status_code, theirs.status_code) == (status, status)
    if status == 200:
        assert ours.text == theirs.text
    return ours


# -- subprocesses ------------------------------------------------------------------------------


# A script that hard-codes its port: patch listen() to a free one, run it as __main__.
_BOOT_LISTEN = textwrap.dedent(
    """
    import runpy, sys
    import tornadish.httpserver as hs
    _listen = hs.HTTPServer.listen
    def listen(self, port, address=None, **kw):
        assert port == int(sys.argv[2]), port
        return _listen(self, int(sys.argv[1]), address, **kw)
    hs.HTTPServer.listen = listen
    {extra}
    runpy.run_module(sys.argv[3], run_name="__main__")
    """
)


def boot(module: str, hard_port: int, port: int, extra: str = "") -> Running:
    code = _BOOT_LISTEN.format(extra=extra)
    return run_example(["-c", code, str(port), str(hard_port), f"examples.seeds.{module}"], port)


# -- services ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_service() -> Iterator[Service]:
    pytest.importorskip("redis", reason=NEEDS_SERVICES)
    yield from redis_server()


@pytest.fixture(scope="session")
def postgres_service() -> Iterator[Service]:
    pytest.importorskip("aiopg", reason=NEEDS_SERVICES)
    pytest.importorskip("psycopg2", reason=NEEDS_SERVICES)
    yield from postgres_server()


# == Seed 000 ==================================================================================


async def hello_app(serve: Any) -> Any:
    hits: list[str] = []

    class Hello(RequestHandler):
        def get(self, name: str) -> None:
            hits.append(name)
            self.write("hello " + name)

    srv = await serve(Application([(r"/(\w*)", Hello)]))
    srv.hits = hits
    return srv


async def test_s000_sync_async_fetch(serve: Any) -> None:
    mod = example("s000_sync_async_fetch")
    srv = await hello_app(serve)
    assert await mod.asynchronous_fetch(srv.base_url + "/async") == b"hello async"
    # HTTPClient runs its own loop: call it off this (running) loop, in a thread.
    body = await asyncio.get_running_loop().run_in_executor(
        None, mod.synchronous_fetch, srv.base_url + "/sync"
    )
    assert body == b"hello sync"
    assert srv.hits == ["async", "sync"]


async def test_s000_coroutines_decorated_and_native() -> None:
    decorated = example("s000_coroutine_decorated")
    native = example("s000_coroutine_native")
    assert await decorated.a() == 42
    assert await native.a() == 42


async def test_s000_call_coroutine(caplog: pytest.LogCaptureFixture) -> None:
    mod = example("s000_call_coroutine")
    with pytest.warns(RuntimeWarning, match="never awaited"):
        assert mod.bad_call() is None  # no ZeroDivisionError: the coroutine never ran
        gc.collect()
    with pytest.raises(ZeroDivisionError):
        await mod.good_call()
    with caplog.at_level(logging.ERROR):
        assert mod.fire_and_forget() is None
        for _ in range(50):
            await asyncio.sleep(0.01)
            gc.collect()
            if "ZeroDivisionError" in caplog.text:
                break
    assert "ZeroDivisionError" in caplog.text  # the fire-and-forget error is logged


async def test_s000_parallel_fetch(serve: Any) -> None:
    from tornadish.httpclient import AsyncHTTPClient

    mod: Any = example("s000_parallel_fetch")
    srv = await hello_app(serve)
    mod.http_client = AsyncHTTPClient()
    urls = [srv.base_url + f"/{n}" for n in ("a", "b", "c")]
    await mod.parallel_fetch(urls[0], urls[1])
    await mod.parallel_fetch_many(urls)
    await mod.parallel_fetch_dict(urls)
    assert sorted(srv.hits) == sorted(["a", "b"] + ["a", "b", "c"] * 2)


async def test_s000_call_blocking() -> None:
    mod = example("s000_call_blocking")
    await mod.call_blocking()
    assert mod.calls[-1] == ("payload", False)  # ran, on an executor thread


async def test_s000_interleaving_async_generator_fails_like_tornado(serve: Any) -> None:
    (pair,) = await fetch_both(serve, "s000_interleaving", [("GET", "/", {})])
    same(pair, 500)  # the slide's ``async def`` + ``yield`` is an async generator


async def test_s000_motor_loop() -> None:
    pytest.importorskip("mongomock_motor", reason=NEEDS_SERVICES)
    mod = example("s000_motor_loop")
    await mod.db.collection.insert_one({"n": 1})
    await mod.db.collection.insert_one({"n": 2})
    await mod.loop_example(mod.db.collection)
    assert [d["n"] for d in mod.seen] == [1, 2]


async def test_s000_background_minute_loop() -> None:
    mod = example("s000_background")
    mod.ticks.clear()
    mod.start()
    await asyncio.sleep(0.05)
    assert len(mod.ticks) == 1  # ran once, now sleeping for a minute
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task() and "minute_loop" in repr(task.get_coro()):
            task.cancel()
    await asyncio.sleep(0)


async def test_s000_template_paths(serve: Any) -> None:
    mod = example("s000_template_paths")
    settings = mod.app.settings
    assert settings["template_path"] == str(SEEDS / "templates")
    assert settings["static_path"] == str(SEEDS / "static")
    assert settings["cookie_secret"].startswith("__TODO")
    srv = await serve(mod.app)
    async with httpx.AsyncClient() as c:
        assert (await c.get(srv.base_url + "/")).status_code == 404  # no routes


@needs_render
async def test_s000_views_home(serve: Any) -> None:
    pairs = await fetch_both(serve, "s000_views_home", [("GET", "/", {})])
    assert "<ul>" in same(pairs[0], 200).text
    mod = example("s000_views_home")
    twin_db = mod.HomeHandler.db
    twin_db.conn.execute("INSERT INTO entries VALUES ('first', '2020-01-01')")
    srv = await serve(mod.app)
    async with httpx.AsyncClient() as c:
        # The slide's template prints ``item``, which is undefined: a NameError.
        assert (await c.get(srv.base_url + "/")).status_code == 500
    twin_db.conn.execute("DELETE FROM entries")


@needs_render
async def test_s000_template_expressions(serve: Any) -> None:
    students, syntax = await fetch_both(
        serve, "s000_template_expressions", [("GET", "/students", {}), ("GET", "/syntax", {})]
    )
    text = same(students, 200).text
    # escape() inside an autoescaped {{ }}: escaped twice, as on Tornado.
    assert "<li>Ann &amp;lt;the elder&amp;gt;</li>" in text and "<li>Dee &amp;amp; co</li>" in text
    assert "Bob" not in text and "Cid" not in text
    text = same(syntax, 200).text
    assert "<title>Syntax</title>" in text and "<footer>4 people</footer>" in text
    assert "<b>Ann &lt;the elder&gt;</b>" in text and "<b>Bob</b>" not in text


@needs_render
async def test_s000_use_methods(serve: Any) -> None:
    (pair,) = await fetch_both(serve, "s000_use_methods", [("GET", "/somme?a=2&b=3", {})])
    text = same(pair, 200).text
    assert "<h1>La somme de 2 et 3</h1>" in text and "<p>5</p>" in text


async def test_s000_security_xsrif_typo_leaves_xsrf_off(serve: Any) -> None:
    (post,) = await fetch_both(
        serve, "s000_security", [("POST", "/", {"data": {"message": "hi"}})], "application"
    )
    assert same(post, 200).text == "posted hi"  # no _xsrf needed: the setting is misspelt


@needs_render
async def test_s000_security_form(serve: Any) -> None:
    (form,) = await fetch_both(serve, "s000_security", [("GET", "/", {})], "application")
    ours, theirs = form
    assert (ours.status_code, theirs.status_code) == (200, 200)
    assert re.search(r'<input type="hidden" name="_xsrf" value="[^"]+"', ours.text)
    assert '<input type="text" name="message"/>' in ours.text


# == Seed 001 ==================================================================================


def test_s001_structure_main_in_subprocess() -> None:
    port = free_port()
    running = run_example(
        ["-m", "examples.seeds.s001_structure"], port, env={"SERVER_PORT": str(port)}
    )
    try:
        running.wait_ready()
        # The page's Application([]) routes nothing.
        assert httpx.get(running.base_url + "/").status_code == 404
    finally:
        _, err = running.stop()
    assert "Traceback" not in err


async def test_s001_structure_handler(serve: Any) -> None:
    srv = await serve(example("s001_structure").make_app())
    async with httpx.AsyncClient() as c:
        r = await c.get(srv.base_url + "/")
    assert (r.status_code, r.text) == (200, "Hello neighboor!!!")


def test_s001_postgres_main_in_subprocess(postgres_service: Service) -> None:
    import psycopg2

    port = free_port()
    running = run_example(
        [
            "-m",
            "examples.seeds.s001_postgres",
            f"--port={port}",
            f"--db_host={postgres_service.host}",
            f"--db_port={postgres_service.port}",
        ],
        port,
    )
    try:
        running.wait_ready()
        r = httpx.get(running.base_url + "/")
        # The seed reads from its cursor after closing it: a 500, on Tornado as here.
        assert r.status_code == 500
    finally:
        _, err = running.stop()
    assert "cursor already closed" in err
    assert "Listening on http://localhost:%d" % port in err  # logging.info, set up by options
    conn = psycopg2.connect(host=postgres_service.host, port=postgres_service.port, user="postgres")
    try:
        with conn.cursor() as cur:  # connect_to_db created and filled the table
            cur.execute("SELECT title FROM entries")
            assert ("hello",) in cur.fetchall()
    finally:
        conn.close()


def test_s001_postgres_connect_and_disconnect(postgres_service: Service) -> None:
    code = textwrap.dedent(
        """
        import functools, sys
        from tornadish.ioloop import IOLoop
        from examples.seeds import s001_postgres as m
        db = IOLoop.current().run_sync(m.connect_to_db)
        assert db is not None and not db.closed
        IOLoop.current().run_sync(functools.partial(m.disconnect_to_db, db))
        print("freed", db.size)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, f"--db_port={postgres_service.port}"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert "freed 0" in proc.stdout  # db.clear() closed the pool's idle connections


async def test_s001_mongodb(serve: Any) -> None:
    pytest.importorskip("mongomock_motor", reason=NEEDS_SERVICES)
    mod = example("s001_mongodb")
    srv = await serve(mod.make_app({"MONGODB_URI": "mongodb://localhost:27017/seeds"}))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        assert (await c.get("/collections/cat")).status_code == 404
        r = await c.post("/collections/cat", content=json.dumps({"items": [1, 2]}))
        assert r.status_code == 204
        r = await c.get("/collections/cat")
        assert r.status_code == 200 and r.json() == {"items": [1, 2]}
        r = await c.post("/collections/cat", content=json.dumps({"items": []}))
        assert (await c.get("/collections/cat")).json() == {"items": []}  # upserted


async def test_s001_redis(serve: Any, redis_service: Service) -> None:
    mod = example("s001_redis")
    redis = await mod.connect_redis(
        {"REDIS_HOST": redis_service.host, "REDIS_PORT": str(redis_service.port)}
    )
    try:
        srv = await serve(Application([(r"/records/(\w+)", mod.RedisHandler)], redis=redis))
        async with httpx.AsyncClient(base_url=srv.base_url) as c:
            assert (await c.get("/records/s001missing")).status_code == 404
            assert (await c.post("/records/s001key", content=b"\x00value")).status_code == 204
            r = await c.get("/records/s001key")
            assert (r.status_code, r.content) == (200, b"\x00value")
    finally:
        await redis.aclose()


@pytest.mark.skipif(
    not HAS_PLATFORM_ASYNCIO, reason="needs tornadish.platform.asyncio.AsyncIOMainLoop"
)
def test_s001_redis_main_in_subprocess(redis_service: Service) -> None:
    port = free_port()
    env = {
        "REDIS_HOST": redis_service.host,
        "REDIS_PORT": str(redis_service.port),
        "PORT": str(port),
    }
    running = run_example(["-m", "examples.seeds.s001_redis"], port, env=env)
    try:
        running.wait_ready()
        assert httpx.post(running.base_url + "/records/s001main", content=b"x").status_code == 204
        assert httpx.get(running.base_url + "/records/s001main").content == b"x"
    finally:
        running.stop()


async def test_s001_weather(serve: Any) -> None:
    class FakeWeather(RequestHandler):
        def get(self) -> None:
            condition = {"temp": "21", "text": "Sunny"}
            self.write({"query": {"results": {"channel": {"item": {"condition": condition}}}}})

    weather = await serve(Application([(r"/forecast", FakeWeather)]))
    srv = await serve(example("s001_weather").make_app(weather.base_url + "/forecast"))
    async with httpx.AsyncClient() as c:
        r = await c.get(srv.base_url + "/")
    assert (r.status_code, r.text) == (200, "Currently 21 degrees and Sunny in Berlin, DE")


async def test_s001_parallel(serve: Any, redis_service: Service) -> None:
    pytest.importorskip("mongomock_motor", reason=NEEDS_SERVICES)
    from examples.seeds._compat import aioredis, motor

    mod = example("s001_parallel")
    redis = await aioredis.create_redis((redis_service.host, redis_service.port))
    mongo_db = motor.motor_tornado.MotorClient("mongodb://localhost/seeds").get_default_database()
    try:
        app = Application([(r"/", mod.HealthHandler)], mongo_db=mongo_db, redis=redis)
        srv = await serve(app)
        async with httpx.AsyncClient() as c:
            r = await c.get(srv.base_url + "/")
        assert (r.status_code, r.text) == (200, "all up")
    finally:
        await redis.aclose()


# == Seed 002 ==================================================================================


def test_s002_factorial_main_in_subprocess(redis_service: Service) -> None:
    import redis

    redis.StrictRedis(redis_service.host, redis_service.port).delete("factorials")
    # The seed hard-codes Redis at localhost:6379: point that at the throwaway server.
    extra = textwrap.dedent(
        f"""
        import redis
        _Strict = redis.StrictRedis
        def StrictRedis(host, port):
            assert (host, port) == ("localhost", 6379)
            return _Strict({redis_service.host!r}, {redis_service.port})
        redis.StrictRedis = StrictRedis
        """
    ).replace("\n", "\n    ")
    port = free_port()
    running = boot("s002_factorial", 8888, port, extra=textwrap.dedent(extra))
    try:
        running.wait_ready()
        with httpx.Client(base_url=running.base_url) as c:
            r = c.get("/fact", params={"n": 5})
            assert r.headers["content-type"] == "application/json; charset=UTF-8"
            assert r.json() == {"n": 5, "fact": 24, "cached": False}  # (n-1)!, as written
            assert c.get("/fact", params={"n": 5}).json()["cached"] is True
            assert c.get("/fact").status_code == 400
    finally:
        _, err = running.stop()
    assert "Traceback" not in err


async def test_s002_coroutine(serve: Any) -> None:
    (pair,) = await fetch_both(serve, "s002_coroutine", [("GET", "/", {})])
    assert same(pair, 200).text == "done"


# == Seed 004 ==================================================================================


async def test_s004_redis_handler_asynchronous(serve: Any, redis_service: Service) -> None:
    import redis

    redis.Redis(redis_service.host, redis_service.port).set("homepage", b"<h1>Home</h1>")
    with pytest.warns(DeprecationWarning, match="asynchronous"):
        mod = importlib.reload(example("s004_redis_handler"))
    srv = await serve(mod.make_app(redis_service.host, redis_service.port))
    async with httpx.AsyncClient() as c:
        r = await c.get(srv.base_url + "/")
    assert (r.status_code, r.text) == (200, "<h1>Home</h1>")


async def test_asynchronous_shim_keeps_the_request_open(serve: Any) -> None:
    from tornadish.ioloop import IOLoop

    with pytest.warns(DeprecationWarning):

        class Later(RequestHandler):
            @tornadish.web.asynchronous
            def get(self) -> None:
                self.write("later")
                IOLoop.current().call_later(0.02, self.finish)

        class Coro(RequestHandler):
            @tornadish.web.asynchronous
            async def get(self) -> None:
                await asyncio.sleep(0.01)
                self.write("coroutine")  # finished when the coroutine completes

        class Fails(RequestHandler):
            @tornadish.web.asynchronous
            async def get(self) -> None:
                await asyncio.sleep(0)
                raise tornadish.web.HTTPError(403)

    srv = await serve(Application([(r"/later", Later), (r"/coro", Coro), (r"/fail", Fails)]))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        assert (await c.get("/later")).text == "later"
        assert (await c.get("/coro")).text == "coroutine"
        assert (await c.get("/fail")).status_code == 403


@needs_render
async def test_s004_render(serve: Any) -> None:
    (pair,) = await fetch_both(serve, "s004_render", [("GET", "/", {})])
    assert "Hi Leeroy Jenkins, welcome to our site." in same(pair, 200).text


@needs_static
async def test_s004_site_templates(serve: Any) -> None:
    cookies = {"Cookie": "user=leeroy"}
    home, page, missing = await fetch_both(
        serve,
        "s004_site",
        [("GET", "/", {}), ("GET", "/about", {"headers": cookies}), ("GET", "/missing", {})],
    )
    text = same(home, 200).text
    assert "<title>My Site :: Home</title>" in text and "recaptcha" in text
    assert re.search(r'href="/static/css/site.css\?v=[0-9a-f]+"', text)
    assert '<div id="header">My Site</div>' in text and "Version: 1.0" in text
    # {{ modules.X() }}: the module's HTML, where Tornado would escape it.
    text = same_but_modules(
        page,
        "&lt;div class=&quot;member-bar&quot;&gt;leeroy&lt;/div&gt;",
        '<div class="member-bar">leeroy</div>',
    ).text
    assert 'class="authenticated"' in text
    assert "recaptcha" not in text
    text = same(missing, 404).text
    assert '<h2 class="error">404 - HTTP 404: Not Found</h2>' in text


@needs_uimodule
async def test_s004_uimodule(serve: Any) -> None:
    plain, forwarded = await fetch_both(
        serve,
        "s004_uimodule",
        [("GET", "/?x=1", {}), ("GET", "/", {"headers": {"X-Forwarded-Ssl": "on"}})],
    )
    ours, theirs = plain
    assert (ours.status_code, theirs.status_code) == (200, 200)
    # The module's HTML goes in as markup; Tornado escapes ``{{ modules.X() }}``.
    assert '&lt;div class=&quot;information&quot;&gt;' in theirs.text
    assert '<div><div class="information">' in ours.text
    assert re.search(r'<a href="https://127\.0\.0\.1:\d+/\?x=1">', ours.text)
    assert "Click here to use a secure connection" in ours.text
    assert same(forwarded, 200).text.strip() == "<div></div>"


@needs_render
async def test_s004_xsrf_login(serve: Any) -> None:
    mod = example("s004_xsrf_login")
    srv = await serve(mod.app)
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        form = await c.get("/login")
        token = re.search(r'name="_xsrf" value="([^"]+)"', form.text)
        assert token, form.text
        assert (await c.post("/login", data={"username": "u"})).status_code == 403
        r = await c.post("/login", data={"username": "u", "_xsrf": token.group(1)})
        assert (r.status_code, r.text) == (200, "welcome u")


@needs_locale
async def test_s004_locale(serve: Any) -> None:
    de = {"headers": {"Accept-Language": "de-DE"}}
    pairs = await fetch_both(
        serve,
        "s004_locale",
        [("GET", "/", de), ("GET", "/t/New", de), ("GET", "/?user_locale=de_DE", {})],
    )
    # Tornado 1.x API: on Tornado 6 get_supported_locales(None) is a TypeError, so the
    # slide's get_user_locale fails on every request -- on both.
    for pair in pairs:
        same(pair, 500)
    import tornadish.locale

    # The de_DE.csv the harness loaded, its two-line entry included.
    de_de = tornadish.locale.get("de_DE")
    assert de_de.translate("New") == "Neu"
    hostname = de_de.translate("Unclaimed Hostname")
    assert hostname.endswith("\nKlicken Sie heir für weitere Informationen.")
    assert de_de.translate("Welcome to our site.") == "Welcome to our site."


async def test_s004_ioloop_add_handler() -> None:
    mod = example("s004_ioloop_client")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = mod.MyClient()
    client.connect("127.0.0.1", server.getsockname()[1])
    conn, _ = server.accept()
    conn.sendall(b"hello ")
    await asyncio.sleep(0.02)
    conn.sendall(b"world")
    conn.close()
    server.close()
    for _ in range(200):
        if client.closed:
            break
        await asyncio.sleep(0.01)
    assert client.closed and client.received == b"hello world"


def test_s004_application_docstring_main_in_subprocess() -> None:
    port = free_port()
    running = boot("s004_application_docstring", 8080, port)
    try:
        running.wait_ready()
        r = httpx.get(running.base_url + "/")
        assert (r.status_code, r.text) == (200, "main page")
    finally:
        _, err = running.stop()
    assert "Traceback" not in err


@pytest.mark.skipif(not HAS_STATIC, reason="needs StaticFileHandler (static files)")
async def test_s004_application_docstring_static(serve: Any) -> None:
    srv = await serve(example("s004_application_docstring").static_app())
    async with httpx.AsyncClient() as c:
        r = await c.get(srv.base_url + "/static/surely-not-there.txt")
    assert r.status_code == 404


# == the "verbatim" promise ====================================================================

# module -> seed file prefix; every module of examples/seeds/ but the foundation's ones.
MODULES = {
    "s000_sync_async_fetch": "000",
    "s000_coroutine_decorated": "000",
    "s000_coroutine_native": "000",
    "s000_call_coroutine": "000",
    "s000_parallel_fetch": "000",
    "s000_call_blocking": "000",
    "s000_interleaving": "000",
    "s000_motor_loop": "000",
    "s000_background": "000",
    "s000_template_paths": "000",
    "s000_views_home": "000",
    "s000_template_expressions": "000",
    "s000_use_methods": "000",
    "methods": "000",
    "s000_security": "000",
    "s001_structure": "001",
    "s001_postgres": "001",
    "s001_mongodb": "001",
    "s001_redis": "001",
    "s001_weather": "001",
    "s001_parallel": "001",
    "s002_factorial": "002",
    "s002_coroutine": "002",
    "s004_redis_handler": "004",
    "s004_render": "004",
    "s004_site": "004",
    "s004_uimodule": "004",
    "s004_xsrf_login": "004",
    "s004_locale": "004",
    "s004_ioloop_client": "004",
    "s004_application_docstring": "004",
}

# Templates and data files copied verbatim from a seed (the rest are harness).
VERBATIM_FILES = {
    "templates/s000_home/home.html": "000",
    "templates/s000_expressions/students.html": "000",
    "templates/s000_methods/somme.html": "000",
    "templates/s000_security/new_message.html": "000",
    "templates/s004_render/home.html": "004",
    "templates/s004_site/base.html": "004",
    "templates/s004_site/error.html": "004",
    "templates/s004_uimodule/page.html": "004",
    "templates/s004_uimodule/modules/ssl.html": "004",
    "templates/s004_xsrf/login.html": "004",
    "templates/s004_locale/welcome.html": "004",
    "locale/s004/de_DE.csv": "004",
}


def seed_text(prefix: str) -> str:
    files = list(SEED_TEXTS.glob(f"{prefix}_*.txt"))
    if not files:
        pytest.skip("seed text not available")
    return " ".join(files[0].read_text().split())


def test_every_seed_module_is_listed() -> None:
    ours = {p.stem for p in SEEDS.glob("*.py")} - {"__init__"}
    foundation = {
        "s000_basic_app",
        "s000_routes_static",
        "s000_routes_resource",
        "s000_routes_query",
        "s004_hello_world",
    }
    assert ours - foundation == set(MODULES)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_example_code_lines_appear_in_the_seed(name: str) -> None:
    """Each code line not marked ``# harness`` (or ``# seed typo``, a documented fix)
    appears in the seed text once ``tornadish`` is renamed ``tornado`` (imports aside)."""
    text = seed_text(MODULES[name])
    source = (SEEDS / f"{name}.py").read_text().replace("tornadish", "tornado")
    body = source.split('"""', 2)[2]  # after the module docstring
    for line in body.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "import ", "from ")):
            continue
        if "# harness" in line or "# seed typo" in line:
            continue
        line = line.removesuffix("\\").strip()
        assert " ".join(line.split()) in text, (name, line)


@pytest.mark.parametrize("path", sorted(VERBATIM_FILES))
def test_template_lines_appear_in_the_seed(path: str) -> None:
    text = seed_text(VERBATIM_FILES[path])
    for line in (SEEDS / path).read_text().splitlines():
        if line.strip():
            assert " ".join(line.split()) in text, (path, line)
