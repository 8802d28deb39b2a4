"""pytest plugin (registered through the ``pytest11`` entry point): async tests and
fixtures for tornadish applications.

``async def`` test functions run on a fresh event loop per test — with or without
pytest-asyncio installed (tests marked ``@pytest.mark.asyncio`` are left to it).
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
``ASYNC_TEST_TIMEOUT`` (5 s by default) or ``@pytest.mark.timeout_async(seconds)``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterator
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


def _is_ours(item: pytest.Item) -> bool:
    return (
        isinstance(item, pytest.Function)
        and inspect.iscoroutinefunction(item.obj)
        and item.get_closest_marker("asyncio") is None
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Async tests need the loop fixture even when they do not name it.
    for item in items:
        if _is_ours(item) and "io_loop" not in item.fixturenames:  # type: ignore[attr-defined]
            item.fixturenames.append("io_loop")  # type: ignore[attr-defined]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not _is_ours(pyfuncitem):
        return None
    io_loop: IOLoop = pyfuncitem.funcargs["io_loop"]  # type: ignore[assignment]
    marker = pyfuncitem.get_closest_marker("timeout_async")
    timeout = float(marker.args[0]) if marker else get_async_test_timeout()
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    coro = pyfuncitem.obj(**kwargs)
    io_loop.asyncio_loop.run_until_complete(asyncio.wait_for(coro, timeout))
    return True


@pytest.fixture
def io_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """How ``io_loop`` makes its loop (override, or parametrize, to choose)."""
    return _new_loop


@pytest.fixture
def io_loop(io_loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> Iterator[IOLoop]:
    """A fresh loop per test, current for the test's duration, closed afterwards."""
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
