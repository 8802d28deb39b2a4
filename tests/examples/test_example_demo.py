"""The demo behind ``make run`` (examples/demo.py): blog, chat and uploads on one port."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from examples.blog.store import Store
from examples.demo import make_app

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout_async(60)
async def test_the_three_examples_answer_under_their_prefixes(
    serve: Any, tmp_path: Path, store: Store
) -> None:
    srv = await serve(make_app(tmp_path, store=store))
    async with httpx.AsyncClient(base_url=srv.base_url, timeout=30) as client:
        index = await client.get("/")
        assert index.status_code == 200 and "<h1>Hello, world</h1>" in index.text
        for name in ("blog", "chat", "upload"):
            assert f'href="/{name}/"' in index.text
            r = await client.get(f"/{name}")
            assert (r.status_code, r.headers["location"]) == (301, f"/{name}/")
            assert (await client.get(f"/{name}/")).status_code == 200
        assert (await client.get("/nope")).status_code == 404
        assert (await client.get("/blog/nope")).status_code == 404

        blog = (await client.get("/blog/")).text
        assert "Welcome to the tornadish blog" in blog  # the first post, made at start-up
        css = re.search(r'href="(/blog/static/blog\.css\?v=\w+)"', blog)
        assert css is not None and (await client.get(css.group(1))).status_code == 200

        r = await client.put(
            "/upload/upload/hello.txt",
            content=b"hi",
            headers={"X-XSRFToken": client.cookies["_xsrf"]},
        )
        assert r.status_code == 200
        assert (tmp_path / "uploads" / "files" / "hello.txt").read_bytes() == b"hi"

        # A long poll through the outer application, woken by a WebSocket message.
        poll = asyncio.ensure_future(
            client.post(
                "/chat/a/message/updates",
                data={"cursor": "0"},
                headers={"X-XSRFToken": client.cookies["_xsrf"]},
            )
        )
        async with connect(f"ws://127.0.0.1:{srv.port}/chat/chatsocket") as ws:
            await ws.send(json.dumps({"name": "demo", "text": "hi there"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["text"] == "hi there"
        r = await asyncio.wait_for(poll, 10)
        assert [m["text"] for m in r.json()["messages"]] == ["hi there"]
    # The cookie secret is kept, so sign-ins survive a restart; the welcome post is
    # written once.
    secret = (tmp_path / "cookie_secret").read_text()
    again = await serve(make_app(tmp_path, store=store))
    async with httpx.AsyncClient(base_url=again.base_url) as client:
        assert (await client.get("/blog/")).text.count('<article class="entry">') == 1
    assert (tmp_path / "cookie_secret").read_text() == secret


def test_python_m_examples_demo_serves_hello_world(tmp_path: Path) -> None:
    """What ``make run`` runs, as a separate process answering curl-like requests."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "examples.demo", f"--port={port}", f"--data={tmp_path}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert r.status_code == 200 and "Hello, world" in r.text
        assert httpx.get(f"http://127.0.0.1:{port}/chat/", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the demo exits cleanly
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output.decode(errors="replace")
    # The URL is said once the port is bound, by the server's banner, and only there.
    url = f"http://127.0.0.1:{port}/"
    lines = [line for line in output.decode().splitlines() if url in line]
    assert lines and all("Serving on " + url in line for line in lines), lines


def test_python_m_examples_demo_on_a_taken_port_fails_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "examples.demo", f"--port={port}", f"--data={tmp_path}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and f"http://127.0.0.1:{port}/" not in result.stderr
    [error] = [line for line in result.stderr.splitlines() if not line.startswith("[")]
    assert error == (
        f"examples.demo: cannot listen on 127.0.0.1:{port}: address already in use (try --port=...)"
    ), result.stderr
