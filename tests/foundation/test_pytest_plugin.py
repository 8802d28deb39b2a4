"""The pytest plugin beside pytest-asyncio, in its strict and its auto mode, and the
plugin's time limit for async tests.

Each test runs pytest in a subprocess (pytester) on a small test file, with
``-p pytest_asyncio`` and the mode in the file's ini, as a project would configure it.
"""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]
pytest.importorskip("pytest_asyncio", reason="pytest-asyncio is in the test extra")

APP = """
import asyncio

import pytest
import pytest_asyncio

from tornadish.web import Application, RequestHandler
from tornadish.websocket import WebSocketHandler


class Hello(RequestHandler):
    def get(self):
        self.write("hello")


class Echo(WebSocketHandler):
    def on_message(self, message):
        self.write_message(message)


@pytest.fixture
def app():
    return Application([(r"/", Hello), (r"/echo", Echo)])


def one_loop(io_loop):
    # The server (on io_loop) and the test's coroutine share one loop.
    assert io_loop.asyncio_loop is asyncio.get_running_loop()
"""


def _ini(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makeini(
        f"""
        [pytest]
        asyncio_mode = {mode}
        asyncio_default_fixture_loop_scope = function
        """
    )


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "pytest_asyncio", "-W", "error", *args, timeout=120
    )


def test_strict_mode_tornadish_runs_unmarked_tests_and_marked_ones_join_pytest_asyncio(
    pytester: pytest.Pytester,
) -> None:
    _ini(pytester, "strict")
    pytester.makepyfile(
        APP
        + """
@pytest_asyncio.fixture
async def greeting(fetch):
    return (await fetch("/")).body


async def test_unmarked_is_run_by_tornadish(request, io_loop, fetch):
    assert not pytest_asyncio.is_async_test(request.node)
    one_loop(io_loop)
    assert (await fetch("/")).body == b"hello"


@pytest.mark.asyncio
async def test_marked_runs_on_pytest_asyncio_loop(request, io_loop, fetch, greeting):
    assert pytest_asyncio.is_async_test(request.node)
    one_loop(io_loop)
    assert greeting == b"hello"
    assert (await fetch("/")).body == b"hello"


@pytest.mark.asyncio(loop_scope="module")
async def test_module_loop_first(io_loop, fetch, ws_connect):
    one_loop(io_loop)
    conn = await ws_connect("/echo")
    await conn.write_message("hi")
    assert await conn.read_message() == "hi"


@pytest.mark.asyncio(loop_scope="module")
async def test_module_loop_again(io_loop, fetch):
    one_loop(io_loop)
    assert (await fetch("/")).code == 200
"""
    )
    result = _run(pytester)
    result.assert_outcomes(passed=4)


def test_auto_mode_every_async_test_and_fixture_joins_pytest_asyncio_loop(
    pytester: pytest.Pytester,
) -> None:
    _ini(pytester, "auto")
    pytester.makepyfile(
        APP
        + """
@pytest.fixture
async def greeting(fetch):
    return (await fetch("/")).body


async def test_fetch(request, io_loop, fetch, greeting):
    assert pytest_asyncio.is_async_test(request.node)
    one_loop(io_loop)
    assert greeting == b"hello"
    assert (await fetch("/nowhere")).code == 404


async def test_websocket(io_loop, ws_connect):
    one_loop(io_loop)
    conn = await ws_connect("/echo")
    await conn.write_message("hi")
    assert await conn.read_message() == "hi"


async def test_without_tornadish_fixtures_is_left_alone(request):
    assert pytest_asyncio.is_async_test(request.node)
    await asyncio.sleep(0)


def test_sync_test_still_gets_a_server(http_server_port):
    assert http_server_port > 0
"""
    )
    result = _run(pytester)
    result.assert_outcomes(passed=4)


@pytest.mark.parametrize(
    ("mode", "marker", "extra"),
    [
        ("strict", "", ("-p", "no:asyncio")),  # no pytest-asyncio at all
        ("strict", "", ()),  # pytest-asyncio present, the test left to tornadish
        ("strict", "@pytest.mark.asyncio", ()),  # run by pytest-asyncio
        ("auto", "", ()),  # run by pytest-asyncio
    ],
    ids=["tornadish-alone", "strict-unmarked", "strict-marked", "auto"],
)
def test_time_limit_names_the_test_the_limit_and_the_line(
    pytester: pytest.Pytester, mode: str, marker: str, extra: tuple[str, ...]
) -> None:
    if "no:asyncio" in extra:
        # The ini options are pytest-asyncio's: without it, no ini (unknown keys warn).
        args: tuple[str, ...] = ("-p", "no:cacheprovider", "-W", "error", *extra)
    else:
        _ini(pytester, mode)
        args = ("-p", "no:cacheprovider", "-p", "pytest_asyncio", "-W", "error")
    source = f"""\
import asyncio
import pytest
from tornadish.web import Application, RequestHandler

@pytest.fixture
def app():
    return Application([(r"/", RequestHandler)])

{marker}
@pytest.mark.timeout_async(0.3)
async def test_stuck(fetch):
    await asyncio.sleep(30)
"""
    pytester.makepyfile(test_stuck=source)
    line = source.splitlines().index("    await asyncio.sleep(30)") + 1
    result = pytester.runpytest_subprocess(*args, timeout=60)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "test_stuck.py::test_stuck timed out after 0.3 s" in out, out
    assert f"test_stuck.py:{line} in test_stuck: await asyncio.sleep(30)" in out, out
    # One message, not asyncio's bare TimeoutError and its internals.
    assert "TimeoutError" not in out and "CancelledError" not in out, out
    failure = re.search(r"_+ test_stuck _+\n(.*?)\n=+ short test summary", out, re.DOTALL)
    assert failure is not None, out
    assert len(failure.group(1).splitlines()) <= 5, failure.group(1)
