"""The examples in a real browser (headless Chromium): two chat pages exchange
messages, one on a WebSocket and the other on the long-polling fallback; the upload
page sends a file and its progress bar fills.

Chromium is driven through the Chrome DevTools Protocol over the ``websockets`` client
(no browser-automation library). Debian's ``chromium`` package is installed when the
tests run as root with apt-get; otherwise the test is skipped, saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from examples.chat.app import ChatRoom, make_app
from examples.upload import app as upload

from tests.support.seed_services import _ensure_binary

# Generous: Chromium starts slowly on a loaded two-core machine.
STARTUP_TIMEOUT = 60.0
STEP_TIMEOUT = 30.0


class DevTools:
    """A minimal CDP client: commands get ids, answers resolve their futures; events
    are not needed here and are dropped."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                fut = self._pending.pop(msg.get("id", -1), None)
                if fut is None or fut.done():
                    continue
                if "error" in msg:
                    fut.set_exception(RuntimeError(f"CDP error: {msg['error']}"))
                else:
                    fut.set_result(msg.get("result", {}))
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("DevTools connection closed"))

    async def call(self, method: str, session: str | None = None, **params: Any) -> Any:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            msg["sessionId"] = session
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = fut
        await self.ws.send(json.dumps(msg))
        return await asyncio.wait_for(fut, STEP_TIMEOUT)

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class Page:
    """One browser tab, attached through a flat CDP session."""

    def __init__(self, devtools: DevTools, session: str) -> None:
        self.devtools = devtools
        self.session = session

    async def call(self, method: str, **params: Any) -> Any:
        return await self.devtools.call(method, self.session, **params)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} raised in the page: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str) -> Any:
        deadline = time.monotonic() + STEP_TIMEOUT
        # Errors count as "not yet": the page may still be loading (no body yet).
        guarded = f"(() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }})()"
        while time.monotonic() < deadline:
            value = await self.evaluate(guarded)
            if value:
                return value
            await asyncio.sleep(0.05)
        log = await self.evaluate("document.body ? document.body.innerText : ''")
        raise AssertionError(f"timed out waiting for {what}; the page shows:\n{log}")

    async def type_into(self, selector: str, text: str) -> None:
        """Focus ``selector`` and type ``text`` as keyboard input."""
        await self.call("Page.bringToFront")
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        await self.call("Input.insertText", text=text)

    async def press_enter(self) -> None:
        key = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        await self.call("Input.dispatchKeyEvent", type="keyDown", text="\r", **key)
        await self.call("Input.dispatchKeyEvent", type="keyUp", **key)


@pytest.fixture(scope="module")
def chromium_binary() -> str:
    """The Chromium executable, installed first when possible (before any test clock
    starts: the download may take minutes), else the test is skipped."""
    return _ensure_binary(["chromium", "chromium-browser"], "chromium")


@contextlib.asynccontextmanager
async def chromium(binary: str, profile: Path) -> AsyncIterator[DevTools]:
    stderr_path = profile.parent / "chromium-stderr.log"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "--no-sandbox",  # root in a container: no user namespaces for the sandbox
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        url = None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while url is None:
            found = re.search(rb"DevTools listening on (ws://\S+)", stderr_path.read_bytes())
            if found:
                url = found.group(1).decode()
            elif proc.poll() is not None or time.monotonic() > deadline:
                output = stderr_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"Chromium did not start (exit {proc.returncode}):\n{output}")
            else:
                await asyncio.sleep(0.05)
        async with connect(url, max_size=None, open_timeout=STEP_TIMEOUT) as ws:
            devtools = DevTools(ws)
            try:
                yield devtools
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(devtools.call("Browser.close"), 5)
                await devtools.close()
    finally:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def open_page(devtools: DevTools, url: str) -> Page:
    target = await devtools.call("Target.createTarget", url="about:blank")
    attached = await devtools.call(
        "Target.attachToTarget", targetId=target["targetId"], flatten=True
    )
    page = Page(devtools, attached["sessionId"])
    await page.call("Page.navigate", url=url)
    return page


async def send_from(page: Page, name: str, text: str) -> None:
    """Type a name and a message into the page's form and press Enter, as a user would."""
    await page.type_into("#name", name)
    await page.type_into("#text", text)
    await page.press_enter()
    # The form handler clears the input once the message is handed to the transport.
    await page.wait_for("document.getElementById('text').value === ''", "the message to be sent")


def shows(text: str) -> str:
    return f"document.getElementById('log').innerText.includes({json.dumps(text)})"


@pytest.mark.timeout(900)  # pytest-timeout covers the fixture, which may install Chromium
@pytest.mark.timeout_async(180)
async def test_two_browser_pages_chat_over_websocket_and_long_polling(
    serve: Any, tmp_path: Path, chromium_binary: str
) -> None:
    room = ChatRoom()
    srv = await serve(make_app(room, prefix="/chat"))
    base = f"http://127.0.0.1:{srv.port}/chat/"
    async with chromium(chromium_binary, tmp_path / "profile") as devtools:
        alice = await open_page(devtools, base + "?transport=ws")
        bob = await open_page(devtools, base + "?transport=poll")
        assert await alice.wait_for("document.body.dataset.transport", "a WebSocket") == "ws"
        assert await bob.wait_for("document.body.dataset.transport", "polling") == "poll"
        # Both are really connected: one socket in the room, one long poll waiting.
        await asyncio.wait_for(_until(lambda: room.members and room.waiters), STEP_TIMEOUT)

        await send_from(alice, "alice", "hello from the websocket page")
        await bob.wait_for(shows("alice: hello from the websocket page"), "alice's message")

        await send_from(bob, "bob", "hello back over long polling")
        await alice.wait_for(shows("bob: hello back over long polling"), "bob's message")
        # Each page also shows its own message, delivered back by the server.
        await alice.wait_for(shows("alice: hello from the websocket page"), "alice's own")
        await bob.wait_for(shows("bob: hello back over long polling"), "bob's own")
    assert [json.loads(payload)["name"] for _, payload in room.history] == ["alice", "bob"]


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.02)


@pytest.mark.timeout(900)
@pytest.mark.timeout_async(180)
async def test_the_upload_page_sends_a_file_with_a_progress_bar(
    serve: Any, tmp_path: Path, chromium_binary: str
) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB
    (tmp_path / "picked.bin").write_bytes(data)
    store = tmp_path / "store"
    srv = await serve(upload.make_app(store, prefix="/upload"))
    async with chromium(chromium_binary, tmp_path / "profile") as devtools:
        page = await open_page(devtools, f"http://127.0.0.1:{srv.port}/upload/")
        await page.wait_for("document.readyState === 'complete'", "the page")
        # Choose the file as the file dialog would, which fires the input's change event.
        await page.call("DOM.enable")
        root = await page.call("DOM.getDocument")
        node = await page.call("DOM.querySelector", nodeId=root["root"]["nodeId"], selector="#pick")
        await page.call(
            "DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(tmp_path / "picked.bin")]
        )
        state = await page.wait_for(
            "document.querySelector('.job .state').textContent.startsWith('stored')"
            " && document.querySelector('.job .state').textContent",
            "the upload to finish",
        )
        assert state == "stored, 2.0 MiB"
        bar = await page.evaluate(
            "[document.querySelector('.job progress').value,"
            " document.querySelector('.job progress').max]"
        )
        assert bar[0] == bar[1] >= len(data)
        # Set by the xhr.upload.onprogress handler only: the bar really followed the upload.
        loaded = await page.evaluate("document.querySelector('.job').dataset.loaded")
        assert int(loaded) >= len(data)
        # The listing is refreshed from /files, with a link to the download.
        await page.wait_for(
            "document.querySelector('#files a') &&"
            " document.querySelector('#files a').textContent === 'picked.bin'",
            "the listing",
        )
    assert (store / "files" / "picked.bin").read_bytes() == data
