"""``tornadish.testing``: Tornado 6.6.1's ``testing_test.py`` ported (every assertion
kept, ``tornado`` -> ``tornadish``), then our own tests of the rest of its public API:
``AsyncHTTPSTestCase`` over real TLS, ``ExpectLog``'s options, ``stop``/``wait``,
``setup_with_context_manager``, ``main`` and the names Tornado's module exports.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import platform
import subprocess
import sys
import textwrap
import traceback
import unittest
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tornadish.testing
from tornadish import gen
from tornadish.httpserver import HTTPServer
from tornadish.locks import Event
from tornadish.testing import (
    AsyncHTTPSTestCase,
    AsyncHTTPTestCase,
    AsyncTestCase,
    ExpectLog,
    bind_unused_port,
    gen_test,
    get_async_test_timeout,
    setup_with_context_manager,
)
from tornadish.web import Application, RequestHandler

REPO = Path(__file__).resolve().parents[2]
TestCase = unittest.TestCase


@contextlib.contextmanager
def set_environ(name: str, value: str) -> Iterator[None]:
    old_value = os.environ.get(name)
    os.environ[name] = value

    try:
        yield
    finally:
        if old_value is None:
            del os.environ[name]
        else:
            os.environ[name] = old_value


# -- Tornado's testing_test.py ----------------------------------------------------------


class AsyncTestCaseTest(AsyncTestCase):
    def test_wait_timeout(self):
        time = self.io_loop.time

        # Accept default 5-second timeout, no error
        self.io_loop.add_timeout(time() + 0.01, self.stop)
        self.wait()

        # Timeout passed to wait()
        self.io_loop.add_timeout(time() + 1, self.stop)
        with self.assertRaises(self.failureException):
            self.wait(timeout=0.01)

        # Timeout set with environment variable
        self.io_loop.add_timeout(time() + 1, self.stop)
        with set_environ("ASYNC_TEST_TIMEOUT", "0.01"), self.assertRaises(self.failureException):
            self.wait()

    def test_subsequent_wait_calls(self):
        """A second call to wait() clears the first one's timeout."""
        # The first wait ends with time left on the clock
        self.io_loop.add_timeout(self.io_loop.time() + 0.00, self.stop)
        self.wait(timeout=0.1)
        # The second wait has enough time for itself but would fail if the
        # first wait's deadline were still in effect.
        self.io_loop.add_timeout(self.io_loop.time() + 0.2, self.stop)
        self.wait(timeout=0.4)


class LeakTest(AsyncTestCase):
    def tearDown(self):
        super().tearDown()
        # Trigger a gc to make warnings more deterministic.
        gc.collect()

    def test_leaked_coroutine(self):
        # A "leaked" coroutine is shut down at tear-down without "task was destroyed but
        # it is pending" (pytest's unraisable-exception check would fail the run).
        event = Event()

        async def callback():
            try:
                await event.wait()
            except asyncio.CancelledError:
                pass

        self.io_loop.add_callback(callback)
        self.io_loop.add_callback(self.stop)
        self.wait()


class AsyncHTTPTestCaseTest(AsyncHTTPTestCase):
    def setUp(self):
        super().setUp()
        # Bind a second port.
        sock, port = bind_unused_port()
        app = Application()
        server = HTTPServer(app, **self.get_httpserver_options())
        server.add_socket(sock)
        self.second_port = port
        self.second_server = server

    def get_app(self):
        return Application()

    def test_fetch_segment(self):
        path = "/path"
        response = self.fetch(path)
        self.assertEqual(response.request.url, self.get_url(path))

    def test_fetch_full_http_url(self):
        # self.fetch() takes an absolute URL as it is, not as a path on the test server.
        path = "http://127.0.0.1:%d/path" % self.second_port

        response = self.fetch(path)
        self.assertEqual(response.request.url, path)

    def tearDown(self):
        self.second_server.stop()
        super().tearDown()


class AsyncTestCaseReturnAssertionsTest(TestCase):
    # A test method returning something (an undecorated generator or coroutine) is an
    # error, not a silent pass.
    def test_undecorated_generator(self):
        class Test(tornadish.testing.AsyncTestCase):
            def test_gen(self):
                yield

        test = Test("test_gen")
        result = unittest.TestResult()
        test.run(result)
        self.assertEqual(len(result.errors), 1)
        self.assertIn("should be decorated", result.errors[0][1])

    @unittest.skipIf(
        platform.python_implementation() == "PyPy",
        "pypy destructor warnings cannot be silenced",
    )
    @unittest.skipIf(
        sys.version_info >= (3, 12),
        "py312 has its own check for test case returns",
    )
    def test_undecorated_coroutine(self):
        class Test(tornadish.testing.AsyncTestCase):
            async def test_coro(self):
                pass

        test = Test("test_coro")
        result = unittest.TestResult()

        # Silence "RuntimeWarning: coroutine 'test_coro' was never awaited".
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            test.run(result)

        self.assertEqual(len(result.errors), 1)
        self.assertIn("should be decorated", result.errors[0][1])

    def test_undecorated_generator_with_skip(self):
        class Test(tornadish.testing.AsyncTestCase):
            @unittest.skip("don't run this")
            def test_gen(self):
                yield

        test = Test("test_gen")
        result = unittest.TestResult()
        test.run(result)
        self.assertEqual(len(result.errors), 0)
        self.assertEqual(len(result.skipped), 1)

    def test_other_return(self):
        class Test(tornadish.testing.AsyncTestCase):
            def test_other_return(self):
                return 42

        test = Test("test_other_return")
        result = unittest.TestResult()
        test.run(result)
        self.assertEqual(len(result.errors), 1)
        self.assertIn("Return value from test method ignored", result.errors[0][1])


class SetUpTearDownTest(TestCase):
    def test_set_up_tear_down(self):
        """AsyncTestCase calls the super methods of setUp and tearDown."""
        events = []
        result = unittest.TestResult()

        class SetUpTearDown(unittest.TestCase):
            def setUp(self):
                events.append("setUp")

            def tearDown(self):
                events.append("tearDown")

        class InheritBoth(tornadish.testing.AsyncTestCase, SetUpTearDown):
            def test(self):
                events.append("test")

        InheritBoth("test").run(result)
        expected = ["setUp", "test", "tearDown"]
        self.assertEqual(expected, events)


class AsyncHTTPTestCaseSetUpTearDownTest(TestCase):
    def test_tear_down_releases_app_and_http_server(self):
        result = unittest.TestResult()

        class SetUpTearDown(tornadish.testing.AsyncHTTPTestCase):
            def get_app(self):
                return Application()

            def test(self):
                self.assertTrue(hasattr(self, "_app"))
                self.assertTrue(hasattr(self, "http_server"))

        test = SetUpTearDown("test")
        test.run(result)
        self.assertFalse(hasattr(test, "_app"))
        self.assertFalse(hasattr(test, "http_server"))


class GenTest(AsyncTestCase):
    def setUp(self):
        super().setUp()
        self.finished = False

    def tearDown(self):
        self.assertTrue(self.finished)
        super().tearDown()

    @gen_test
    def test_sync(self):
        self.finished = True

    @gen_test
    def test_async(self):
        yield gen.moment
        self.finished = True

    def test_timeout(self):
        # Set a short timeout and exceed it.
        @gen_test(timeout=0.1)
        def test(self):
            yield gen.sleep(1)

        # Not assertRaises: the traceback itself is checked.
        try:
            test(self)
            self.fail("did not get expected exception")
        except TimeoutError:
            # The traceback points at the test's own line, not only at loop internals.
            self.assertIn("gen.sleep(1)", traceback.format_exc())

        self.finished = True

    def test_no_timeout(self):
        # A test that does not exceed its timeout should succeed.
        @gen_test(timeout=1)
        def test(self):
            yield gen.sleep(0.1)

        test(self)
        self.finished = True

    def test_timeout_environment_variable(self):
        @gen_test(timeout=0.5)
        def test_long_timeout(self):
            yield gen.sleep(0.25)

        # Uses provided timeout of 0.5 seconds, doesn't time out.
        with set_environ("ASYNC_TEST_TIMEOUT", "0.1"):
            test_long_timeout(self)

        self.finished = True

    def test_no_timeout_environment_variable(self):
        @gen_test(timeout=0.01)
        def test_short_timeout(self):
            yield gen.sleep(1)

        # Uses environment-variable timeout of 0.1, times out.
        with set_environ("ASYNC_TEST_TIMEOUT", "0.1"), self.assertRaises(TimeoutError):
            test_short_timeout(self)

        self.finished = True

    def test_with_method_args(self):
        @gen_test
        def test_with_args(self, *args):
            self.assertEqual(args, ("test",))
            yield gen.moment

        test_with_args(self, "test")
        self.finished = True

    def test_with_method_kwargs(self):
        @gen_test
        def test_with_kwargs(self, **kwargs):
            self.assertDictEqual(kwargs, {"test": "test"})
            yield gen.moment

        test_with_kwargs(self, test="test")
        self.finished = True

    def test_native_coroutine(self):
        @gen_test
        async def test(self):
            self.finished = True

        test(self)

    def test_native_coroutine_timeout(self):
        # Set a short timeout and exceed it.
        @gen_test(timeout=0.1)
        async def test(self):
            await gen.sleep(1)

        try:
            test(self)
            self.fail("did not get expected exception")
        except TimeoutError:
            self.finished = True


# -- our own ----------------------------------------------------------------------------


class Hello(RequestHandler):
    def get(self) -> None:
        self.write(f"hello over {self.request.protocol}")


class HTTPSTestCaseTest(AsyncHTTPSTestCase):
    def get_app(self) -> Application:
        return Application([("/", Hello)])

    def test_fetch_is_over_tls_with_the_bundled_certificate(self) -> None:
        self.assertTrue(self.get_url("/").startswith("https://127.0.0.1:"))
        response = self.fetch("/")
        self.assertEqual(response.code, 200)
        self.assertEqual(response.body, b"hello over https")

    def test_default_ssl_options_name_files_that_exist(self) -> None:
        options = AsyncHTTPSTestCase.default_ssl_options()
        self.assertEqual(self.get_ssl_options(), options)
        self.assertTrue(all(os.path.exists(path) for path in options.values()))
        self.assertEqual(self.get_httpserver_options(), {"ssl_options": options})

    @gen_test
    async def test_the_client_does_not_verify(self) -> None:
        response = await self.http_client.fetch(self.get_url("/"))
        self.assertEqual(response.body, b"hello over https")


class SharedClientTest(AsyncHTTPTestCase):
    def get_app(self) -> Application:
        return Application([("/", Hello)])

    @gen_test
    async def test_http_client_is_the_loops_shared_client(self) -> None:
        from tornadish.httpclient import AsyncHTTPClient

        self.assertIs(AsyncHTTPClient(), self.http_client)
        response = await AsyncHTTPClient().fetch(self.get_url("/"))
        self.assertEqual(response.body, b"hello over http")

    def test_fetch_returns_errors_unless_raise_error(self) -> None:
        from tornadish.httpclient import HTTPClientError

        self.assertEqual(self.fetch("/missing").code, 404)
        with self.assertRaises(HTTPClientError):
            self.fetch("/missing", raise_error=True)


class StopWaitTest(AsyncTestCase):
    def test_stop_before_wait_returns_at_once_and_leaves_the_loop_usable(self) -> None:
        self.stop("early")
        self.assertEqual(self.wait(), "early")

        async def later() -> str:
            await asyncio.sleep(0.01)
            return "ran"

        # A stop() outside a running loop must not make the next run stop early.
        self.assertEqual(self.io_loop.run_sync(later), "ran")

    def test_wait_with_condition_runs_until_it_holds(self) -> None:
        count = 0

        def tick() -> None:
            nonlocal count
            count += 1
            self.stop(count=count)
            if count < 3:
                self.io_loop.add_callback(tick)

        self.io_loop.add_callback(tick)
        self.assertEqual(self.wait(condition=lambda: count >= 3), {"count": 3})


class TearDownTest(TestCase):
    def test_a_pending_task_that_fails_while_cancelled_fails_the_test(self) -> None:
        class Test(tornadish.testing.AsyncTestCase):
            def test(self) -> None:
                async def stubborn() -> None:
                    try:
                        await asyncio.sleep(10)
                    except asyncio.CancelledError:
                        raise KeyError("raised while cancelled") from None

                self.io_loop.add_callback(stubborn)
                # Stop once the task is inside its sleep (a task cancelled before its
                # first step never runs its body).
                self.io_loop.add_timeout(self.io_loop.time() + 0.05, self.stop)
                self.wait()

        result = unittest.TestResult()
        Test("test").run(result)
        self.assertEqual(len(result.errors), 1)
        self.assertIn("raised while cancelled", result.errors[0][1])

    def test_overriding_get_new_ioloop_is_deprecated(self) -> None:
        class Test(tornadish.testing.AsyncTestCase):
            def get_new_ioloop(self) -> Any:
                return super().get_new_ioloop()

            def test(self) -> None:
                pass

        with pytest.warns(DeprecationWarning, match="get_new_ioloop is deprecated"):
            Test("test").run(unittest.TestResult())


class ExpectLogTest(TestCase):
    def setUp(self) -> None:
        self.logger = logging.getLogger("tornadish.test.expectlog")
        self.logger.setLevel(logging.INFO)
        self.addCleanup(self.logger.setLevel, logging.NOTSET)

    def test_a_matching_warning_is_swallowed_and_counted(self) -> None:
        with self.assertNoLogs(self.logger), ExpectLog(self.logger, "disk") as expect:
            self.logger.warning("disk full")
            self.logger.warning("disk full again")
        self.assertEqual(expect.matched, 2)
        self.assertFalse(expect.logged_stack)

    def test_no_match_raises_unless_not_required(self) -> None:
        with (
            self.assertRaisesRegex(Exception, "did not get expected log message"),
            ExpectLog(self.logger, "never"),
        ):
            pass
        with ExpectLog(self.logger, "never", required=False) as expect:
            pass
        self.assertEqual(expect.matched, 0)

    def test_the_regex_matches_at_the_start_and_other_messages_pass(self) -> None:
        with self.assertLogs(self.logger, logging.WARNING) as seen, ExpectLog(self.logger, "full"):
            self.logger.warning("full")
            self.logger.warning("disk full")  # "full" is not at the start
        self.assertEqual([r.getMessage() for r in seen.records], ["disk full"])

    def test_logged_stack_records_a_traceback(self) -> None:
        with ExpectLog(self.logger, "boom") as expect:
            try:
                raise ValueError("x")
            except ValueError:
                self.logger.exception("boom")
        self.assertTrue(expect.logged_stack)

    def test_logger_by_name_and_the_root_logger(self) -> None:
        with ExpectLog("tornadish.test.expectlog", "by name"):
            self.logger.warning("by name")
        root = logging.getLogger()
        with ExpectLog("", "from root") as expect:
            root.error("from root")
        self.assertIs(expect.logger, root)

    def test_level_lowers_the_logger_for_the_duration(self) -> None:
        self.logger.setLevel(logging.WARNING)
        with ExpectLog(self.logger, "detail", level=logging.DEBUG) as expect:
            self.assertEqual(self.logger.level, logging.DEBUG)
            self.logger.debug("detail")
        self.assertEqual(expect.matched, 1)
        self.assertEqual(self.logger.level, logging.WARNING)

    def test_a_match_at_another_level_is_let_through_with_a_warning(self) -> None:
        with (
            self.assertLogs("tornadish.application", logging.WARNING) as app,
            ExpectLog(self.logger, "odd", level=logging.ERROR, required=False) as expect,
        ):
            self.logger.warning("odd one")
        self.assertEqual(expect.matched, 0)
        self.assertIn("at unexpected level (ERROR vs WARNING)", app.records[0].getMessage())

    def test_an_info_match_without_level_is_deprecated(self) -> None:
        with (
            pytest.warns(DeprecationWarning, match="without level argument"),
            ExpectLog(self.logger, "note"),
        ):
            self.logger.info("note")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with ExpectLog(self.logger, "note", level=logging.INFO):
                self.logger.info("note")


class SetupWithContextManagerTest(TestCase):
    def test_the_manager_is_entered_now_and_exited_at_clean_up(self) -> None:
        events: list[str] = []

        @contextlib.contextmanager
        def managed() -> Iterator[str]:
            events.append("enter")
            yield "value"
            events.append("exit")

        class Test(unittest.TestCase):
            def setUp(self) -> None:
                self.value = setup_with_context_manager(self, managed())

            def test(self) -> None:
                events.append(f"test sees {self.value}")

        Test("test").run(unittest.TestResult())
        self.assertEqual(events, ["enter", "test sees value", "exit"])


def test_bind_unused_port_and_the_default_timeout() -> None:
    sock, port = bind_unused_port()
    try:
        assert sock.getsockname() == ("127.0.0.1", port)
    finally:
        sock.close()
    with set_environ("ASYNC_TEST_TIMEOUT", "2.5"):
        assert get_async_test_timeout() == 2.5
    with set_environ("ASYNC_TEST_TIMEOUT", "soon"):
        assert get_async_test_timeout() == 5


def test_the_public_names_are_tornados() -> None:
    expected = {
        "AsyncHTTPSTestCase",
        "AsyncHTTPTestCase",
        "AsyncTestCase",
        "ExpectLog",
        "bind_unused_port",
        "gen_test",
        "get_async_test_timeout",
        "main",
        "setup_with_context_manager",
    }
    assert expected <= set(tornadish.testing.__all__)
    assert all(hasattr(tornadish.testing, name) for name in expected)
    assert gen_test.__test__ is False  # type: ignore[attr-defined]
    tornado_testing = pytest.importorskip("tornado.testing")
    theirs = {
        name
        for name, value in vars(tornado_testing).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == "tornado.testing"
    }
    assert theirs <= set(tornadish.testing.__all__)


_MAIN_TESTS = """\
import unittest
from tornadish.testing import AsyncTestCase, gen_test

class T(AsyncTestCase):
    @gen_test
    async def test_passes(self):
        pass

    def test_fails(self):
        self.fail("on purpose")

def all():
    return unittest.defaultTestLoader.loadTestsFromTestCase(T)
"""


def test_main_runs_named_tests_with_unittests_flags(tmp_path: Path) -> None:
    (tmp_path / "sample_tests.py").write_text(_MAIN_TESTS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, env=env, timeout=60
        )

    named = run("-m", "tornadish.testing", "--verbose", "sample_tests.T.test_passes")
    assert named.returncode == 0, named.stderr
    assert "test_passes" in named.stderr and "ok" in named.stderr
    everything = run("-m", "tornadish.testing", "sample_tests")
    assert everything.returncode == 1
    assert "on purpose" in everything.stderr and "Ran 2 tests" in everything.stderr
    nothing = run("-m", "tornadish.testing")
    assert nothing.returncode == 1 and "No tests specified" in nothing.stderr
    script = tmp_path / "runtests.py"
    script.write_text(
        textwrap.dedent(
            """
            from sample_tests import all
            import tornadish.testing
            tornadish.testing.main()
            """
        )
    )
    via_all = run(str(script), "--failfast")
    assert via_all.returncode == 1 and "Ran " in via_all.stderr
