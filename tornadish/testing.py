"""Testing helpers with Tornado's names: ``AsyncTestCase``, ``AsyncHTTPTestCase``,
``AsyncHTTPSTestCase``, ``gen_test``, ``ExpectLog``, ``bind_unused_port``,
``setup_with_context_manager`` and ``main``.

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

Each test gets a fresh event loop (uvloop when installed, as in production; set
``TORNADISH_NO_UVLOOP=1`` for asyncio's own); servers bind an unused port on 127.0.0.1.
The default timeout of ``gen_test``, ``wait`` and ``fetch`` is 5 seconds, or
``ASYNC_TEST_TIMEOUT`` from the environment.

For pytest, fixtures with the same machinery come from :mod:`tornadish.pytest_plugin`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import re
import signal
import socket
import sys
import unittest
import warnings
from collections.abc import Callable, Coroutine, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, overload

from tornadish import netutil
from tornadish._server.httpserver import HTTPServer
from tornadish.ioloop import IOLoop
from tornadish.log import app_log

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
    "setup_with_context_manager",
]

_TESTCERTS = os.path.join(os.path.dirname(__file__), "_testcerts")


def bind_unused_port(
    reuse_port: bool = False, address: str = "127.0.0.1"
) -> tuple[socket.socket, int]:
    """A listening socket on an unused port of ``address`` (IPv4), and the port.

    >>> sock, port = bind_unused_port()
    >>> sock.getsockname() == ("127.0.0.1", port)
    True
    >>> sock.close()
    """
    sock = netutil.bind_sockets(0, address, family=socket.AF_INET, reuse_port=reuse_port)[0]
    return sock, sock.getsockname()[1]


def get_async_test_timeout() -> float:
    """``ASYNC_TEST_TIMEOUT`` from the environment (seconds), else 5."""
    env = os.environ.get("ASYNC_TEST_TIMEOUT")
    if env is not None:
        try:
            return float(env)
        except ValueError:
            pass
    return 5


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

    Test methods decorated with :func:`gen_test` may be ``async def`` (or generators in
    the ``gen.coroutine`` style). The deprecated ``stop``/``wait`` pair drives the loop
    from a plain method: callbacks call ``self.stop(value)``, the test ``self.wait()``
    for it. A test method returning a coroutine or generator (a forgotten ``gen_test``)
    or any other value is an error. Tasks still pending at tear-down are cancelled.
    """

    def __init__(self, methodName: str = "runTest") -> None:
        super().__init__(methodName)
        self.__stopped = False
        self.__running = False
        self.__failure: BaseException | None = None
        self.__stop_args: Any = None
        self.__timeout: object | None = None
        # The generator or coroutine of the running @gen_test method (for its traceback).
        self._test_generator: Generator[Any, Any, Any] | Coroutine[Any, Any, Any] | None = None

    def setUp(self) -> None:
        super().setUp()
        if type(self).get_new_ioloop is not AsyncTestCase.get_new_ioloop:
            warnings.warn("get_new_ioloop is deprecated", DeprecationWarning, stacklevel=2)
        self.io_loop = self.get_new_ioloop()
        asyncio.set_event_loop(self.io_loop.asyncio_loop)

    def tearDown(self) -> None:
        # Coroutines left waiting would warn when collected: cancel them, let them run
        # their cancellation, and raise anything other than CancelledError they end with.
        loop = self.io_loop.asyncio_loop
        task_error: BaseException | None = None
        if not loop.is_closed():
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                outcomes = loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                task_error = next(
                    (
                        o
                        for o in outcomes
                        if isinstance(o, BaseException)
                        and not isinstance(o, asyncio.CancelledError)
                    ),
                    None,
                )
            loop.run_until_complete(loop.shutdown_asyncgens())
        # Forget the SIGCHLD set-up, so Subprocess works again on the next test's loop
        # (looked up, not imported: a test that never used it has nothing to undo).
        subprocess_module = sys.modules.get("tornadish._io.subprocess")
        if subprocess_module is not None:
            subprocess_module.Subprocess.uninitialize()
        asyncio.set_event_loop(None)
        if not loop.is_closed():
            self.io_loop.close(all_fds=True)
        super().tearDown()
        if task_error is not None:
            raise task_error
        # The last point where unittest reports an error the normal way.
        self.__rethrow()

    def get_new_ioloop(self) -> IOLoop:
        """The loop for this test: a new one (overriding this is deprecated, as in
        Tornado 6.3)."""
        return IOLoop(asyncio_loop=_new_loop(), make_current=False)

    def __rethrow(self) -> None:
        if self.__failure is not None:
            failure, self.__failure = self.__failure, None
            raise failure

    def run(self, result: unittest.TestResult | None = None) -> unittest.TestResult | None:
        """Run the test; a failure that escaped every other report is raised here."""
        ret = super().run(result)
        self.__rethrow()
        return ret

    def _callTestMethod(self, method: Callable[[], Any]) -> None:
        # Python 3.11 only warns (DeprecationWarning) about a test method that returns
        # something, and 3.10 not at all; an async test method without @gen_test would
        # otherwise pass without having run.
        result = method()
        if isinstance(result, Generator) or inspect.iscoroutine(result):
            if inspect.iscoroutine(result):
                result.close()  # no "never awaited" warning on top of the error
            raise TypeError(
                "Generator and coroutine test methods should be decorated with "
                "tornadish.testing.gen_test"
            )
        if result is not None:
            raise ValueError(f"Return value from test method ignored: {result!r}")

    def stop(self, _arg: Any = None, **kwargs: Any) -> None:
        """Make the pending (or next) :meth:`wait` return ``_arg`` (or the keyword
        arguments). Deprecated in Tornado 5.1: use :func:`gen_test`."""
        assert _arg is None or not kwargs
        self.__stop_args = kwargs or _arg
        if self.__running:
            self.io_loop.stop()
            self.__running = False
        self.__stopped = True

    def wait(
        self, condition: Callable[[], bool] | None = None, timeout: float | None = None
    ) -> Any:
        """Run the loop until :meth:`stop` is called, and return what it was given.

        With ``condition``, the loop runs again after each ``stop()`` until
        ``condition()`` is true. After ``timeout`` seconds (default
        :func:`get_async_test_timeout`) the test fails with ``failureException``.
        Deprecated in Tornado 5.1: use :func:`gen_test`.
        """
        if timeout is None:
            timeout = get_async_test_timeout()
        if not self.__stopped:
            if timeout:

                def timeout_func() -> None:
                    try:
                        raise self.failureException(
                            f"Async operation timed out after {timeout} seconds"
                        )
                    except Exception as e:
                        self.__failure = e
                    self.stop()

                self.__timeout = self.io_loop.add_timeout(
                    self.io_loop.time() + timeout, timeout_func
                )
            while True:
                self.__running = True
                self.io_loop.start()
                if self.__failure is not None or condition is None or condition():
                    break
            if self.__timeout is not None:
                self.io_loop.remove_timeout(self.__timeout)
                self.__timeout = None
        assert self.__stopped
        self.__stopped = False
        self.__rethrow()
        result, self.__stop_args = self.__stop_args, None
        return result


_TestMethod = Callable[..., "Generator[Any, Any, Any] | Coroutine[Any, Any, Any] | None"]


@overload
def gen_test(*, timeout: float | None = None) -> Callable[[_TestMethod], Callable[..., None]]: ...


@overload
def gen_test(func: _TestMethod) -> Callable[..., None]: ...


def gen_test(
    func: _TestMethod | None = None, timeout: float | None = None
) -> Callable[..., None] | Callable[[_TestMethod], Callable[..., None]]:
    """Run an ``async def`` (or ``gen.coroutine``-style generator) test method of an
    :class:`AsyncTestCase` to completion on its loop.

    The test fails with :class:`~tornadish.util.TimeoutError` after ``timeout`` seconds
    (default :func:`get_async_test_timeout`); the traceback then shows where the test
    was waiting.

    >>> class T(AsyncTestCase):
    ...     @gen_test(timeout=10)
    ...     async def test_slow(self):
    ...         await asyncio.sleep(1)
    """
    if timeout is None:
        timeout = get_async_test_timeout()

    def wrap(f: _TestMethod) -> Callable[..., None]:
        # The innermost wrapper keeps the generator or coroutine object, so a timeout can
        # be thrown into it at the line the test was stuck on.
        @functools.wraps(f)
        def pre_coroutine(self: AsyncTestCase, *args: Any, **kwargs: Any) -> Any:
            result = f(self, *args, **kwargs)
            if isinstance(result, Generator) or inspect.iscoroutine(result):
                self._test_generator = result
            else:
                self._test_generator = None
            return result

        native = inspect.iscoroutinefunction(f)
        if native:
            coro: Callable[..., Any] = pre_coroutine
        else:
            from tornadish import gen

            coro = gen.coroutine(pre_coroutine)

        @functools.wraps(coro)
        def post_coroutine(self: AsyncTestCase, *args: Any, **kwargs: Any) -> None:
            def start() -> Any:
                result = coro(self, *args, **kwargs)
                # On timeout run_sync cancels what it runs. A native coroutine's task
                # then ends; a generator is shielded so it stays suspended at its
                # ``yield`` for the timeout to be thrown in there (as in Tornado).
                return result if native else asyncio.shield(result)

            try:
                self.io_loop.run_sync(start, timeout)
            except asyncio.TimeoutError as e:
                # run_sync's traceback ends in the loop's internals; thrown into the
                # suspended generator, the error's traceback ends at the test's line.
                gen_obj = self._test_generator
                if gen_obj is not None and getattr(gen_obj, "cr_running", True):
                    gen_obj.throw(e)
                raise

        return post_coroutine

    if func is not None:
        return wrap(func)
    return wrap


# Keep test collectors (nose, pytest) from taking ``gen_test`` itself for a test.
gen_test.__test__ = False  # type: ignore[attr-defined]


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
        self.http_client = self.get_http_client()
        self._app = self.get_app()
        self.http_server = self.get_http_server()
        self.http_server.add_sockets([sock])
        self.io_loop.run_sync(self.http_server.wait_started)

    def get_app(self) -> Any:
        """The application (or other ``HTTPServer`` callback) to test; required."""
        raise NotImplementedError()

    def get_http_client(self) -> AsyncHTTPClient:
        """The client :meth:`fetch` uses: the loop's shared ``AsyncHTTPClient()``."""
        from tornadish.httpclient import AsyncHTTPClient

        return AsyncHTTPClient()

    def get_http_server(self) -> HTTPServer:
        """The server for the application (override to change its options)."""
        return HTTPServer(self._app, **self.get_httpserver_options())

    def get_httpserver_options(self) -> dict[str, Any]:
        """Keyword arguments for the ``HTTPServer`` (e.g. ``ssl_options``)."""
        return {}

    def get_http_port(self) -> int:
        """The port the server listens on (a new one for each test)."""
        return self.__port

    def get_protocol(self) -> str:
        """``http`` (``https`` in :class:`AsyncHTTPSTestCase`)."""
        return "http"

    def get_url(self, path: str) -> str:
        """An absolute URL for ``path`` on the test server."""
        return f"{self.get_protocol()}://127.0.0.1:{self.get_http_port()}{path}"

    def fetch(self, path: str, raise_error: bool = False, **kwargs: Any) -> HTTPResponse:
        """Fetch ``path`` (or an absolute ``http(s)://`` URL) and return the response.

        Keyword arguments go to ``AsyncHTTPClient.fetch`` (``method="POST"``,
        ``body=...``). Unlike there, a non-2xx response is returned rather than raised
        unless ``raise_error=True``, as in Tornado.
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
        # The test case object outlives the test (unittest keeps it): let these go.
        del self.http_server
        del self._app
        super().tearDown()


class AsyncHTTPSTestCase(AsyncHTTPTestCase):
    """Like :class:`AsyncHTTPTestCase`, over TLS with a bundled self-signed certificate
    (for ``localhost`` and ``127.0.0.1``; the client does not verify it)."""

    def get_http_client(self) -> AsyncHTTPClient:
        """A client of its own that does not verify the server's certificate."""
        from tornadish.httpclient import AsyncHTTPClient

        return AsyncHTTPClient(force_instance=True, defaults={"validate_cert": False})

    def get_httpserver_options(self) -> dict[str, Any]:
        """``ssl_options`` from :meth:`get_ssl_options`."""
        return {"ssl_options": self.get_ssl_options()}

    def get_ssl_options(self) -> dict[str, Any]:
        """The server's TLS settings: :meth:`default_ssl_options` unless overridden."""
        return AsyncHTTPSTestCase.default_ssl_options()

    @staticmethod
    def default_ssl_options() -> dict[str, Any]:
        """``certfile`` and ``keyfile`` of the bundled self-signed test certificate.

        >>> sorted(AsyncHTTPSTestCase.default_ssl_options())
        ['certfile', 'keyfile']
        """
        return {
            "certfile": os.path.join(_TESTCERTS, "test.crt"),
            "keyfile": os.path.join(_TESTCERTS, "test.key"),
        }

    def get_protocol(self) -> str:
        """``https``."""
        return "https"


class ExpectLog(logging.Filter):
    """Context manager asserting that a matching log message is emitted (and hiding it).

    >>> with ExpectLog("tornadish.general", "Malformed HTTP request"):
    ...     logging.getLogger("tornadish.general").warning("Malformed HTTP request from x")

    ``logger`` is a logger or its name (``""`` for the root logger); ``regex`` is matched
    at the start of each message. ``required=False`` allows zero matches. With ``level``
    only records of that level match (one of another level is let through, with a
    warning), and the logger is opened to that level for the duration. ``logged_stack``
    tells whether any record carried a traceback.

    As in Tornado 6.3+, a match below ``WARNING`` without ``level`` is deprecated (a
    ``DeprecationWarning`` on exit).
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
        self.matched = 0
        self.deprecated_level_matched = 0
        self.logged_stack = False
        self.orig_level: int | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        """Swallow (and count) a matching record; let any other through."""
        if record.exc_info:
            self.logged_stack = True
        message = record.getMessage()
        if not self.regex.match(message):
            return True
        if self.level is None and record.levelno < logging.WARNING:
            # A warning raised inside logging would be swallowed; report it on exit.
            self.deprecated_level_matched += 1
        if self.level is not None and record.levelno != self.level:
            app_log.warning(
                "Got expected log message %r at unexpected level (%s vs %s)",
                message,
                logging.getLevelName(self.level),
                record.levelname,
            )
            return True
        self.matched += 1
        return False

    def __enter__(self) -> ExpectLog:
        if self.level is not None and self.level < self.logger.getEffectiveLevel():
            self.orig_level = self.logger.level
            self.logger.setLevel(self.level)
        self.logger.addFilter(self)
        return self

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.orig_level is not None:
            self.logger.setLevel(self.orig_level)
        self.logger.removeFilter(self)
        if not typ and self.required and not self.matched:
            raise Exception(f"did not get expected log message {self.regex.pattern!r}")
        if not typ and self.required and self.deprecated_level_matched >= self.matched:
            warnings.warn(
                "ExpectLog matched at INFO or below without level argument",
                DeprecationWarning,
                stacklevel=2,
            )


def setup_with_context_manager(testcase: unittest.TestCase, cm: Any) -> Any:
    """Enter ``cm`` for the rest of the test (it is exited at clean-up); its value.

    >>> class T(unittest.TestCase):
    ...     def setUp(self):
    ...         setup_with_context_manager(self, warnings.catch_warnings())
    ...         warnings.simplefilter("ignore", DeprecationWarning)
    """
    val = cm.__enter__()
    testcase.addCleanup(cm.__exit__, None, None, None)
    return val


def main(**kwargs: Any) -> None:
    """Run tests like ``unittest.main``, with ``tornadish.options`` command-line flags.

    ``python -m tornadish.testing tests.test_module`` runs the named tests; a script
    calling ``main()`` with no test named runs its ``all()`` suite. ``--verbose``,
    ``--quiet``, ``--failfast``, ``--catch`` and ``--buffer`` are unittest's;
    ``--exception_on_interrupt=false`` lets Ctrl-C kill the process outright; logging
    flags are those of :mod:`tornadish.options`. Other keyword arguments go to
    ``unittest.main`` (``main(verbosity=2)``).
    """
    from tornadish.options import define, options, parse_command_line

    define(
        "exception_on_interrupt",
        type=bool,
        default=True,
        help=(
            "If true (default), ctrl-c raises a KeyboardInterrupt exception. This prints "
            "a stack trace but cannot interrupt certain operations. If false, the "
            "process is more reliably killed, but does not print a stack trace."
        ),
    )
    # unittest's own command-line switches
    define("verbose", type=bool)
    define("quiet", type=bool)
    define("failfast", type=bool)
    define("catch", type=bool)
    define("buffer", type=bool)

    argv = [sys.argv[0], *parse_command_line(sys.argv)]
    if not options.exception_on_interrupt:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    if options.verbose is not None:
        kwargs["verbosity"] = 2
    if options.quiet is not None:
        kwargs["verbosity"] = 0
    if options.failfast is not None:
        kwargs["failfast"] = True
    if options.catch is not None:
        kwargs["catchbreak"] = True
    if options.buffer is not None:
        kwargs["buffer"] = True
    if __name__ == "__main__" and len(argv) == 1:
        print("No tests specified", file=sys.stderr)
        sys.exit(1)
    # module=None lets tests be named on the command line without importing them all.
    if len(argv) > 1:
        unittest.main(module=None, argv=argv, **kwargs)
    else:
        unittest.main(defaultTest="all", argv=argv, **kwargs)


if __name__ == "__main__":
    main()
