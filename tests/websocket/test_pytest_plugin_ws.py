"""The pytest plugin's ``ws_connect`` fixture: WebSockets to the test server."""

from __future__ import annotations

from typing import Any

import pytest

from tornadish.web import Application
from tornadish.websocket import WebSocketHandler

pytest_plugins = ["pytester"]


class Echo(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


@pytest.fixture
def app() -> Application:
    return Application([(r"/echo", Echo)])


async def test_ws_connect_talks_to_the_test_server(ws_connect: Any, base_url: str) -> None:
    conn = await ws_connect("/echo")
    await conn.write_message("hello")
    assert await conn.read_message() == "hello"
    # A full URL works too, and keyword arguments reach websocket_connect.
    other = await ws_connect("ws" + base_url[4:] + "/echo", max_message_size=1024)
    await other.write_message(b"\x01", binary=True)
    assert await other.read_message() == b"\x01"


def test_ws_connect_closes_what_the_test_left_open(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from tornadish.web import Application
        from tornadish.websocket import WebSocketHandler

        CLOSED = []

        class Quiet(WebSocketHandler):
            def on_message(self, message):
                pass

            def on_close(self):
                CLOSED.append(self.close_code)

        @pytest.fixture
        def app():
            return Application([(r"/ws", Quiet)])

        async def test_leaves_it_open(ws_connect):
            await ws_connect("/ws")

        def test_it_was_closed_cleanly():
            assert CLOSED == [1000]
        """
    )
    # Without pytest-asyncio: the plugin's own loop (tests/foundation/test_pytest_plugin.py
    # runs the plugin under pytest-asyncio).
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:asyncio", "-W", "error"
    )
    result.assert_outcomes(passed=2)
