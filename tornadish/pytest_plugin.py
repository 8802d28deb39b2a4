"""pytest plugin (registered through the ``pytest11`` entry point): async tests and
fixtures for tornadish applications.

``async def`` test functions run on a fresh event loop per test. With pytest-asyncio
active, the tests it runs (those marked ``@pytest.mark.asyncio`` in its strict mode,
every ``async def`` test in its auto mode) stay on its loop, and the fixtures below
join that loop: in either mode the server, the client and the test share one loop.
Override the ``app`` fixture and use the others:

.. code-block:: python

    @pytest.fixture
    def app():
        return Application([(r"/", MainHandler)])

    async def test_home(fetch):
        response = await fetch("/")
        assert response.code == 200

Fixtures: ``io_loop`` (an ``IOLoop``), ``io_loop_factory`` (override to choose the
loop; uvloop when installed), ``app``, ``http_server``, ``http_server_port``,
``base_url``, ``http_client``, ``fetch``, ``ws_connect``. The timeout per async test is
``ASYNC_TEST_TIMEOUT`` (5 s by default) or ``@pytest.mark.timeout_async(seconds)``; a
test over it fails with one message naming it, the limit, and the line it was waiting
on. (Under pytest-asyncio the limit applies to the tests that use these fixtures.)

Rules of this module: it never runs a test pytest-asyncio has taken, and never makes a
second loop for one: everything a test uses runs on the loop its coroutine runs on.
"""

from __future__ import annotations

import asyncio
import inspect
import linecache
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from tornadish._server.httpserver import HTTPServer
from tornadish.ioloop import IOLoop
from tornadish.testing import _new_loop, bind_unused_port, get_async_test_timeout

if TYPE_CHECKING:
    from tornadish.httpclient import AsyncHTTPClient, HTTPResponse
    from tornadish.websocket import WebSocketClientConnection

__all__ = [
    "app",
    "base_url",
    "fetch",
    "http_client",
    "http_server",
    "http_server_port",
    "io_loop",
    "io_loop_factory",
    "ws_connect",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "timeout_async(seconds): time limit for an async test run by tornadish"
    )


def _pytest_asyncio(config: pytest.Config) -> ModuleType | None:
    """pytest-asyncio's plugin, when it is active in this run (it may be installed yet
    disabled with ``-p no:asyncio``)."""
    module = sys.modules.get("pytest_asyncio.plugin")
    if module is not None and config.pluginmanager.is_registered(module):
        return module
    return None


def _taken_by_pytest_asyncio(item: pytest.Item) -> bool:
    """pytest-asyncio runs ``item``: marked in its strict mode, any coroutine test in its
    auto mode (it marks them all at collection)."""
    plugin = _pytest_asyncio(item.config)
    if plugin is None:
        return False
    is_async_test = getattr(plugin, "is_async_test", None)
    if is_async_test is not None:
        return bool(is_async_test(item))
    return item.get_closest_marker("asyncio") is not None


def _is_ours(item: pytest.Item) -> bool:
    return (
        isinstance(item, pytest.Function)
        and inspect.iscoroutinefunction(item.obj)
        and item.get_closest_marker("asyncio") is None
        and not _taken_by_pytest_asyncio(item)
    )


def _time_limit(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout_async")
    return float(marker.args[0]) if marker else get_async_test_timeout()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_ours(item):
            # Async tests need the loop fixture even when they do not name it.
            if "io_loop" not in item.fixturenames:  # type: ignore[attr-defined]
                item.fixturenames.append("io_loop")  # type: ignore[attr-defined]
        elif (
            isinstance(item, pytest.Function)
            and inspect.iscoroutinefunction(item.obj)
            and "io_loop" in item.fixturenames
            and _taken_by_pytest_asyncio(item)
        ):
            # pytest-asyncio runs it, on the loop our fixtures joined: the time limit
            # still applies, wrapped around the coroutine pytest-asyncio will run.
            item.obj = _limited(item.obj, item.nodeid, _time_limit(item))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not _is_ours(pyfuncitem):
        return None
    io_loop: IOLoop = pyfuncitem.funcargs["io_loop"]  # type: ignore[assignment]
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    limited = _limited(pyfuncitem.obj, pyfuncitem.nodeid, _time_limit(pyfuncitem))
    io_loop.asyncio_loop.run_until_complete(limited(**kwargs))
    return True


def _limited(
    test: Callable[..., Coroutine[Any, Any, Any]], name: str, timeout: float
) -> Callable[..., Coroutine[Any, Any, None]]:
    """``test`` failing after ``timeout`` seconds with a message that names it, the
    limit and where it was waiting (not asyncio's bare ``TimeoutError``)."""

    async def limited(*args: Any, **kwargs: Any) -> None:
        __tracebackhide__ = True  # the test's own frames are the ones to read
        task = asyncio.ensure_future(test(*args, **kwargs))
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if task in done:
            task.result()
            return
        where = _suspended_at(task)
        task.cancel()
        # Let it unwind (finally blocks, async with) before the fixtures are torn down.
        await asyncio.wait({task}, timeout=1.0)
        pytest.fail(
            f"{name} timed out after {timeout:g} s (the limit is ASYNC_TEST_TIMEOUT, or "
            f"@pytest.mark.timeout_async(seconds) on the test); it was waiting at:\n"
            + ("\n".join(where) or "  (no coroutine frame)"),
            pytrace=False,
        )

    # pytest reports the test's own file and line; the coroutine keeps its own name (a
    # test that looks for its tasks by name finds the test's, not this one).
    limited.__wrapped__ = test  # type: ignore[attr-defined]
    return limited


def _suspended_at(task: asyncio.Future[Any]) -> list[str]:
    """Where ``task``'s coroutine is suspended: each frame of its ``await`` chain."""
    lines: list[str] = []
    coro: Any = task.get_coro() if isinstance(task, asyncio.Task) else None
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        filename, lineno = frame.f_code.co_filename, frame.f_lineno
        source = linecache.getline(filename, lineno).strip()
        lines.append(f"  {filename}:{lineno} in {frame.f_code.co_name}: {source}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return lines


@pytest.fixture
def io_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """How ``io_loop`` makes its loop (override, or parametrize, to choose; a test
    pytest-asyncio runs is on its loop, chosen with pytest-asyncio's options)."""
    return _new_loop


@pytest.fixture
def io_loop(
    request: pytest.FixtureRequest, io_loop_factory: Callable[[], asyncio.AbstractEventLoop]
) -> Iterator[IOLoop]:
    """A fresh loop per test, current for the test's duration, closed afterwards; for a
    test pytest-asyncio runs, the loop it runs the test on (left for it to close)."""
    if _taken_by_pytest_asyncio(request.node):
        yield IOLoop._for_loop(_pytest_asyncio_loop(request))
        return
    loop = io_loop_factory()
    asyncio.set_event_loop(loop)
    io = IOLoop(asyncio_loop=loop, make_current=False)
    try:
        yield io
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        io.close(all_fds=True)


def _pytest_asyncio_loop(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoop:
    """The loop pytest-asyncio (1.0 or later) runs ``request``'s test on: its runner for
    the test's loop scope, which this fixture then depends on, so the loop outlives
    every fixture built on ``io_loop``."""
    marker = request.node.get_closest_marker("asyncio")
    scope = (marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")) if marker else None
    try:
        scope = scope or request.config.getini("asyncio_default_test_loop_scope") or "function"
        # (pytest-asyncio's fixture for the asyncio.Runner of a loop scope, since 1.0.)
        runner = request.getfixturevalue(f"_{scope}_scoped_runner")
        loop: asyncio.AbstractEventLoop = runner.get_loop()
    except (ValueError, pytest.FixtureLookupError, AttributeError) as e:
        pytest.fail(
            f"{request.node.nodeid}: pytest-asyncio runs this test, and tornadish's fixtures "
            "can join its loop only from pytest-asyncio 1.0 on (pip install "
            "'pytest-asyncio>=1.0'); or let tornadish run it: asyncio_mode = strict, "
            f"without @pytest.mark.asyncio on the test ({type(e).__name__}: {e})",
            pytrace=False,
        )
    return loop


@pytest.fixture
def app() -> Any:
    """The application under test: override this fixture in your tests."""
    raise pytest.UsageError("define an 'app' fixture returning your Application")


@pytest.fixture
def http_server(io_loop: IOLoop, app: Any) -> Iterator[HTTPServer]:
    """``app`` served on an unused port of 127.0.0.1 (stopped after the test)."""
    sock, port = bind_unused_port()
    server = HTTPServer(app)
    server.add_sockets([sock])
    io_loop.run_sync(server.wait_started)
    server._test_port = port  # type: ignore[attr-defined]
    yield server
    server.stop()
    io_loop.run_sync(server.close_all_connections, timeout=get_async_test_timeout())


@pytest.fixture
def http_server_port(http_server: HTTPServer) -> int:
    """The port of ``http_server``."""
    return int(http_server._test_port)  # type: ignore[attr-defined]


@pytest.fixture
def base_url(http_server_port: int) -> str:
    """``http://127.0.0.1:<port>``."""
    return f"http://127.0.0.1:{http_server_port}"


@pytest.fixture
def http_client(io_loop: IOLoop) -> Iterator[AsyncHTTPClient]:
    """A private ``AsyncHTTPClient``, closed after the test."""
    from tornadish.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient(force_instance=True)
    yield client
    client.close()


@pytest.fixture
def fetch(http_client: AsyncHTTPClient, base_url: str) -> Callable[..., Awaitable[HTTPResponse]]:
    """``await fetch(path, **kwargs)``: a request to the test server; error statuses come
    back as responses unless ``raise_error=True``."""

    async def _fetch(path: str, raise_error: bool = False, **kwargs: Any) -> HTTPResponse:
        url = path if path.lower().startswith(("http://", "https://")) else base_url + path
        return await http_client.fetch(url, raise_error=raise_error, **kwargs)

    return _fetch


@pytest.fixture
def ws_connect(
    io_loop: IOLoop, base_url: str
) -> Iterator[Callable[..., Awaitable[WebSocketClientConnection]]]:
    """``await ws_connect(path, **kwargs)``: a WebSocket to the test server (keyword
    arguments go to :func:`~tornadish.websocket.websocket_connect`); the connections
    still open are closed after the test."""
    from tornadish.websocket import websocket_connect

    opened: list[WebSocketClientConnection] = []

    async def _connect(path: str, **kwargs: Any) -> WebSocketClientConnection:
        url = path if path.startswith(("ws://", "wss://")) else "ws" + base_url[4:] + path
        conn = await websocket_connect(url, **kwargs)
        opened.append(conn)
        return conn

    yield _connect

    async def close_all() -> None:
        for conn in opened:
            conn.close(1000, "test finished")
        for conn in opened:
            try:
                while await conn.read_message() is not None:
                    pass  # drain until the closing handshake is done
            except RuntimeError:
                pass  # on_message_callback connections cannot be read from

    io_loop.run_sync(close_all, timeout=get_async_test_timeout())
