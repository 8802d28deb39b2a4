"""The seed examples in examples/seeds/, over real sockets.

Each example is the seed's Tornado code with only ``tornado`` renamed ``tornadish``. The
route modules are served in-process and compared with the very same source run on real
Tornado; the examples whose ``__main__`` starts the IOLoop run in a subprocess.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tornadish.web import RequestHandler

from tests.support.running import Running, run_example

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # examples/ is a package at the project root
SEEDS = ROOT / "examples" / "seeds"
HAS_RENDER = hasattr(RequestHandler, "render")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_as_tornado(module_name: str) -> types.ModuleType:
    """The example's source with ``tornadish`` renamed back to ``tornado``."""
    path = SEEDS / f"{module_name}.py"
    source = path.read_text().replace("tornadish", "tornado")
    module = types.ModuleType(f"tornado_twin_{module_name}")
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


async def serve_tornado_app(app: Any) -> tuple[Any, str]:
    import tornado.httpserver
    import tornado.netutil

    server = tornado.httpserver.HTTPServer(app)
    socks = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets(socks)
    return server, f"http://127.0.0.1:{socks[0].getsockname()[1]}"


async def compare_example(
    serve: Any, module_name: str, expected: dict[str, tuple[int, str | None]]
) -> None:
    """Serve the example on tornadish and on Tornado; each path must give the expected
    (status, body) on ours and the same status and body on Tornado."""
    ours_mod = importlib.import_module(f"examples.seeds.{module_name}")
    theirs_mod = load_as_tornado(module_name)
    srv = await serve(ours_mod.app)
    tserver, tbase = await serve_tornado_app(theirs_mod.app)
    try:
        async with httpx.AsyncClient() as c:
            for path, (status, body) in expected.items():
                ours = await c.get(srv.base_url + path)
                theirs = await c.get(tbase + path)
                assert (ours.status_code, theirs.status_code) == (status, status), path
                if body is not None:
                    assert ours.text == body, path
                assert ours.content == theirs.content, path
                assert ours.headers.get("content-type") == theirs.headers.get("content-type")
    finally:
        tserver.stop()
        await tserver.close_all_connections()


# -- in-process: the "DEFINES ROUTES" examples --------------------------------------------------


async def test_s000_routes_resource(serve: Any) -> None:
    await compare_example(
        serve,
        "s000_routes_resource",
        {
            "/": (200, "Hello, world!!!!!!"),
            "/tweet/123": (200, "Querying tweet with id 123"),
            "/tweet/007": (200, "Querying tweet with id 007"),
            "/tweet/abc": (404, None),
            "/tweet/": (404, None),
            "/tweet/1/2": (404, None),
        },
    )


async def test_s000_routes_query(serve: Any) -> None:
    await compare_example(
        serve,
        "s000_routes_query",
        {
            "/": (200, "Hello, world!!!!!!"),
            "/Qparam?n=1": (200, "The parameter is1"),
            "/Qparam?n=-42": (200, "The parameter is-42"),
            "/Qparam?n=%2010%20": (200, "The parameter is10"),  # get_argument strips
            "/Qparam?n=1&n=2": (200, "The parameter is2"),  # the last value wins
            "/Qparam": (400, None),  # MissingArgumentError
            "/Qparam?n=one": (500, None),  # int() fails: an uncaught exception
            "/qparam?n=1": (404, None),
        },
    )


async def test_s000_routes_static_hello(serve: Any) -> None:
    await compare_example(
        serve, "s000_routes_static", {"/": (200, "Hello, world!!!!!!"), "/nope": (404, None)}
    )


@pytest.mark.skipif(not HAS_RENDER, reason="RequestHandler.render (templates) not there yet")
async def test_s000_routes_static_render(serve: Any) -> None:
    await compare_example(serve, "s000_routes_static", {"/blog": (200, None)})


async def test_s004_handler_in_process(serve: Any) -> None:
    from examples.seeds.s004_hello_world import MainHandler
    from tornadish.web import Application

    srv = await serve(Application([(r"/", MainHandler)]))
    async with httpx.AsyncClient() as c:
        r = await c.get(srv.base_url + "/")
    assert (r.status_code, r.text) == (200, "Hello, world")


# -- subprocesses: main() with IOLoop.current().start() --------------------------------------------


@pytest.fixture
def basic_app() -> Iterator[Running]:
    port = free_port()
    running = run_example(["-m", "examples.seeds.s000_basic_app", f"--port={port}"], port)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_s000_basic_app_main_in_subprocess(basic_app: Running) -> None:
    base = basic_app.base_url
    with httpx.Client(base_url=base) as c:
        r = c.get("/")
        assert (r.status_code, r.text) == (200, "Hello, world!")
        assert r.headers["content-type"] == "text/html; charset=UTF-8"
        r = c.get("/isEven", params={"n": 4})
        assert (r.status_code, r.text) == (200, "The parameter is4")
        assert c.get("/isEven").status_code == 400
        assert c.get("/isEven?n=four").status_code == 500
        r = c.get("/tweet/42")
        assert (r.status_code, r.text) == (200, "Querying tweet with id 42")
        assert c.get("/tweet/x").status_code == 404
        blog = c.get("/blog")
        if HAS_RENDER:
            assert blog.status_code == 200 and "<h1>Blog</h1>" in blog.text
        # The server survived the 500 and keeps serving on the same connection.
        assert c.get("/").text == "Hello, world!"
    out, err = basic_app.stop()
    assert f"Listening on http://localhost:{base.rsplit(':', 1)[1]}" in out
    # parse_command_line() sets up logging as Tornado's does: access lines on stderr.
    assert "200 GET / (127.0.0.1)" in err
    assert "400 GET /isEven (127.0.0.1)" in err
    assert "Uncaught exception GET /isEven?n=four" in err


def test_s000_basic_app_help_lists_port() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "examples.seeds.s000_basic_app", "--help"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    text = proc.stdout + proc.stderr
    assert "--port" in text
    assert "port to listen on" in text


# The seed's hello world listens on the fixed port 8888; the harness points listen() at a
# free port instead and runs the module, unchanged, as __main__.
_S004_BOOT = textwrap.dedent(
    """
    import runpy, sys
    import tornadish.httpserver as hs
    _listen = hs.HTTPServer.listen
    def listen(self, port, address=None, **kw):
        assert port == 8888
        return _listen(self, int(sys.argv[1]), address, **kw)
    hs.HTTPServer.listen = listen
    runpy.run_module("examples.seeds.s004_hello_world", run_name="__main__")
    """
)


def test_s004_hello_world_main_in_subprocess() -> None:
    port = free_port()
    running = run_example(["-c", _S004_BOOT, str(port)], port)
    try:
        running.wait_ready()
        r = httpx.get(running.base_url + "/")
        assert (r.status_code, r.text) == (200, "Hello, world")
        assert httpx.get(running.base_url + "/other").status_code == 404
    finally:
        _, err = running.stop()
    assert "Traceback" not in err


def test_examples_differ_from_the_seed_only_in_the_module_name() -> None:
    """Guard the "verbatim" promise: each handler/route line of the examples appears in
    the seed text once ``tornadish`` is renamed ``tornado``."""
    seed = (ROOT.parent / "shared" / "seeds").glob("000_*.txt")
    seed_files = list(seed)
    if not seed_files:
        pytest.skip("seed text not available")
    text = " ".join(seed_files[0].read_text().split())
    for name in (
        "s000_basic_app",
        "s000_routes_static",
        "s000_routes_resource",
        "s000_routes_query",
    ):
        source = (SEEDS / f"{name}.py").read_text().replace("tornadish", "tornado")
        body = source.split('"""', 2)[2]  # after the module docstring
        for line in body.splitlines():
            line = line.strip()
            if not line or line.startswith(
                ("#", "import ", "if __name__", "options.parse_command_line")
            ):
                continue
            if line == "main()":
                continue
            assert line in text, (name, line)
