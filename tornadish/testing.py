"""Testing helpers with Tornado's names: ``AsyncTestCase``, ``AsyncHTTPTestCase``,
``gen_test``, ``ExpectLog``, ``bind_unused_port``.

>>> class MyTest(AsyncHTTPTestCase):
...     def get_app(self):
...         return Application([(r"/", MainHandler)])
...
...     def test_homepage(self):
...         response = self.fetch("/")
...         self.assertEqual(response.code, 200)
...
...     @gen_test
...     async def test_async(self):
...         response = await self.http_client.fetch(self.get_url("/"))
...         self.assertIn(b"Hello", response.body)

Each test gets a fresh event loop (uvloop when installed, as in production); servers bind
an unused port on 127.0.0.1. The default timeout of ``gen_test`` and ``fetch`` is 5
seconds, or ``ASYNC_TEST_TIMEOUT`` from the environment.

For pytest, fixtures with the same machinery come from :mod:`tornadish.pytest_plugin`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import re
import socket
import ssl
import unittest
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload

from tornadish import netutil
from tornadish._server.httpserver import HTTPServer
from tornadish.ioloop import IOLoop

if TYPE_CHECKING:
    from tornadish.httpclient import AsyncHTTPClient, HTTPResponse

__all__ = [
    "AsyncHTTPSTestCase",
    "AsyncHTTPTestCase",
    "AsyncTestCase",
    "ExpectLog",
    "bind_unused_port",
    "gen_test",
    "get_async_test_timeout",
    "main",
]


def bind_unused_port(
    reuse_port: bool = False, address: str = "127.0.0.1"
) -> tuple[socket.socket, int]:
    """A listening socket on an unused port of ``address``, and the port."""
    sock = netutil.bind_sockets(0, address, family=socket.AF_INET, reuse_port=reuse_port)[0]
    return sock, sock.getsockname()[1]


def get_async_test_timeout() -> float:
    """``ASYNC_TEST_TIMEOUT`` from the environment, else 5 seconds."""
    env = os.environ.get("ASYNC_TEST_TIMEOUT")
    if env:
        try:
            return float(env)
        except ValueError:
            pass
    return 5.0


def _new_loop() -> asyncio.AbstractEventLoop:
    if os.environ.get("TORNADISH_NO_UVLOOP") != "1":
        try:
            import uvloop

            return uvloop.new_event_loop()
        except ImportError:
            pass
    return asyncio.new_event_loop()


class AsyncTestCase(unittest.TestCase):
    """A ``TestCase`` that owns an event loop, ``self.io_loop`` (an ``IOLoop``).

    Test methods decorated with :func:`gen_test` may be ``async def``; plain methods can
    drive the loop with ``self.io_loop.run_sync`` or the legacy ``stop``/``wait`` pair.
    Tasks still pending at tear-down are cancelled.
    """

    def __init__(self, methodName: str = "runTest") -> None:
        super().__init__(methodName)
        self.__stopped = False
        self.__stop_args: Any = None
        self.__failure: BaseException | None = None
        self.__timeout: asyncio.TimerHandle | None = None

    def setUp(self) -> None:
        super().setUp()
        self.io_loop = self.get_new_ioloop()
        asyncio.set_event_loop(self.io_loop.asyncio_loop)

    def tearDown(self) -> None:
        loop = self.io_loop.asyncio_loop
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        if not loop.is_closed():
            self.io_loop.close(all_fds=True)
        super().tearDown()
        self.__rethrow()

    def get_new_ioloop(self) -> IOLoop:
        """The loop for this test (override to use a different one)."""
        return IOLoop(asyncio_loop=_new_loop(), make_current=False)

    def __rethrow(self) -> None:
        if self.__failure is not None:
            failure, self.__failure = self.__failure, None
            raise failure

    def stop(self, _arg: Any = None, **kwargs: Any) -> None:
        """Stop a pending :meth:`wait`, handing it ``_arg`` (or the keyword arguments)."""
        assert _arg is None or not kwargs
        self.__stop_args = kwargs or _arg
        self.__stopped = True
        self.io_loop.asyncio_loop.stop()

    def wait(
        self, condition: Callable[[], bool] | None = None, timeout: float | None = None
    ) -> Any:
        """Run the loop until :meth:`stop` is called (and ``condition()`` holds), failing
        after ``timeout`` seconds (default: :func:`get_async_test_timeout`)."""
        if timeout is None:
            timeout = get_async_test_timeout()
        loop = self.io_loop.asyncio_loop
        if not self.__stopped:

            def timeout_func() -> None:
                try:
                    raise self.failureException(
                        f"Async operation timed out after {timeout} seconds"
                    )
                except Exception as e:
                    self.__failure = e
                self.stop()

            self.__timeout = loop.call_later(timeout, timeout_func)
            while True:
                self.__stopped = False
                loop.run_forever()
                if self.__failure is not None or condition is None or condition():
                    break
            if self.__timeout is not None:
                self.__timeout.cancel()
                self.__timeout = None
        self.__stopped = False
        self.__rethrow()
        result, self.__stop_args = self.__stop_args, None
        return result


_Method = Callable[..., Any]


@overload
def gen_test(*, timeout: float | None = None) -> Callable[[_Method], Callable[..., None]]: ...


@overload
def gen_test(func: _Method) -> Callable[..., None]: ...


def gen_test(
    func: _Method | None = None, timeout: float | None = None
) -> Callable[..., None] | Callable[[_Method], Callable[..., None]]:
    """Run an ``async def`` (or ``@gen.coroutine``-style generator) test method on the
    test case's loop, failing after ``timeout`` seconds (default
    :func:`get_async_test_timeout`).

    >>> class T(AsyncTestCase):
    ...     @gen_test(timeout=10)
    ...     async def test_slow(self):
    ...         await asyncio.sleep(1)
    """
    if timeout is None:
        timeout = get_async_test_timeout()

    def wrap(f: _Method) -> Callable[..., None]:
        if inspect.isgeneratorfunction(f):
            from tornadish import gen

            f = gen.coroutine(f)

        @functools.wraps(f)
        def post_coroutine(self: AsyncTestCase, *args: Any, **kwargs: Any) -> None:
            async def run() -> None:
                result = f(self, *args, **kwargs)
                if inspect.isawaitable(result):
                    await result
                elif result is not None:
                    raise TypeError(
                        f"@gen_test should be applied to a coroutine function, got {result!r}"
                    )

            try:
                self.io_loop.run_sync(run, timeout=timeout)
            except asyncio.TimeoutError:
                raise self.failureException(
                    f"Async operation timed out after {timeout} seconds"
                ) from None

        return post_coroutine

    if func is not None:
        return wrap(func)
    return wrap


class AsyncHTTPTestCase(AsyncTestCase):
    """Starts ``get_app()`` on an HTTP server for each test.

    ``self.fetch(path)`` runs a request to completion and returns the response (errors
    are returned, not raised, unless ``raise_error=True``); ``self.http_client`` is an
    ``AsyncHTTPClient`` for async tests; ``get_url(path)`` builds absolute URLs.
    """

    def setUp(self) -> None:
        super().setUp()
        sock, port = bind_unused_port()
        self.__port = port
        self._app = self.get_app()
        self.http_client = self.get_http_client()
        self.http_server = self.get_http_server()
        self.http_server.add_sockets([sock])
        self.io_loop.run_sync(self.http_server.wait_started)

    def get_app(self) -> Any:
        """The application to test (required)."""
        raise NotImplementedError()

    def get_http_client(self) -> AsyncHTTPClient:
        """The client used by :meth:`fetch` (a fresh instance per test)."""
        from tornadish.httpclient import AsyncHTTPClient

        return AsyncHTTPClient(force_instance=True)

    def get_http_server(self) -> HTTPServer:
        """The server for the application (override to change its options)."""
        return HTTPServer(self._app, **self.get_httpserver_options())

    def get_httpserver_options(self) -> dict[str, Any]:
        """Keyword arguments for the ``HTTPServer`` (e.g. ``ssl_options``)."""
        return {}

    def get_http_port(self) -> int:
        """The port the server listens on."""
        return self.__port

    def get_protocol(self) -> str:
        """``http`` (``https`` in :class:`AsyncHTTPSTestCase`)."""
        return "http"

    def get_url(self, path: str) -> str:
        """An absolute URL for ``path`` on the test server."""
        return f"{self.get_protocol()}://127.0.0.1:{self.get_http_port()}{path}"

    def fetch(self, path: str, raise_error: bool = False, **kwargs: Any) -> HTTPResponse:
        """Fetch ``path`` (or an absolute URL) synchronously from the test's point of view.

        Unlike ``AsyncHTTPClient.fetch``, errors come back as responses unless
        ``raise_error=True``, as in Tornado.
        """
        url = path if path.lower().startswith(("http://", "https://")) else self.get_url(path)

        async def do_fetch() -> HTTPResponse:
            return await self.http_client.fetch(url, raise_error=raise_error, **kwargs)

        response: HTTPResponse = self.io_loop.run_sync(do_fetch, timeout=get_async_test_timeout())
        return response

    def tearDown(self) -> None:
        self.http_server.stop()
        self.io_loop.run_sync(
            self.http_server.close_all_connections, timeout=get_async_test_timeout()
        )
        self.http_client.close()
        super().tearDown()


class AsyncHTTPSTestCase(AsyncHTTPTestCase):
    """Like :class:`AsyncHTTPTestCase`, over TLS with a bundled self-signed certificate
    (the client does not verify it)."""

    def get_http_client(self) -> AsyncHTTPClient:
        from tornadish.httpclient import AsyncHTTPClient

        client = AsyncHTTPClient(force_instance=True)
        client.defaults["validate_cert"] = False
        return client

    def get_httpserver_options(self) -> dict[str, Any]:
        return {"ssl_options": self.get_ssl_options()}

    def get_ssl_options(self) -> dict[str, Any] | ssl.SSLContext:
        """The server's TLS settings: the bundled test certificate by default."""
        here = os.path.join(os.path.dirname(__file__), "_testcerts")
        return {
            "certfile": os.path.join(here, "test.crt"),
            "keyfile": os.path.join(here, "test.key"),
        }

    def get_protocol(self) -> str:
        return "https"


class ExpectLog(logging.Filter):
    """Context manager asserting that a matching log message is emitted (and hiding it).

    >>> with ExpectLog("tornadish.general", "Malformed HTTP request"):
    ...     logging.getLogger("tornadish.general").warning("Malformed HTTP request from x")

    ``required=False`` allows zero matches; ``level`` restricts to one log level.
    """

    def __init__(
        self,
        logger: logging.Logger | str,
        regex: str,
        required: bool = True,
        level: int | None = None,
    ) -> None:
        super().__init__()
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.regex = re.compile(regex)
        self.required = required
        self.level = level
        self.matched = False
        self.logged_stack = False
        self._old_level = logging.NOTSET

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            self.logged_stack = True
        message = record.getMessage()
        if self.regex.match(message) and (self.level is None or record.levelno == self.level):
            self.matched = True
            return False
        return True

    def __enter__(self) -> ExpectLog:
        if self.level is not None and self.level < self.logger.getEffectiveLevel():
            self._old_level = self.logger.level
            self.logger.setLevel(self.level)
        self.logger.addFilter(self)
        return self

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.logger.removeFilter(self)
        if self._old_level != logging.NOTSET:
            self.logger.setLevel(self._old_level)
        if not typ and self.required and not self.matched:
            raise Exception(f"did not get expected log message {self.regex.pattern!r}")


def main(**kwargs: Any) -> None:
    """Run tests like ``unittest.main`` (``python -m tornadish.testing module``)."""
    unittest.main(module=None, **kwargs)


if __name__ == "__main__":
    main()
