"""Logging: one access-log line per request at the right level, the ``log_function``
setting, and uncaught exceptions logged while the server keeps serving."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from tornadish.web import Application, RequestHandler

from tests.support.web import ACCESS, APP, get


async def test_access_log_one_line_per_request_with_levels(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class H(RequestHandler):
        def get(self, code: str) -> None:
            self.set_status(int(code))
            if int(code) >= 200:
                self.write("x")

    caplog.set_level(logging.DEBUG, logger=ACCESS)
    srv = await serve(Application([(r"/(\d+)", H)]))
    for code in ("200", "302", "404", "503"):
        await get(srv, f"/{code}?q=1")
    await get(srv, "/nowhere")
    lines = [r for r in caplog.records if r.name == ACCESS]
    assert [(r.levelno, r.args[0]) for r in lines] == [  # type: ignore[index]
        (logging.INFO, 200),
        (logging.INFO, 302),
        (logging.WARNING, 404),
        (logging.ERROR, 503),
        (logging.WARNING, 404),
    ]
    for r in lines:
        assert r.msg == "%d %s %.2fms"
    msg = lines[0].getMessage()
    assert msg.startswith("200 GET /200?q=1 (127.0.0.1) ")
    assert msg.endswith("ms")
    assert lines[-1].getMessage().startswith("404 GET /nowhere (127.0.0.1) ")


async def test_log_function_setting_overrides(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    logged: list[tuple[int, str]] = []

    def log_function(handler: RequestHandler) -> None:
        logged.append((handler.get_status(), handler.request.uri))

    class H(RequestHandler):
        def get(self) -> None:
            self.write("x")

    caplog.set_level(logging.DEBUG, logger=ACCESS)
    srv = await serve(Application([(r"/", H)], log_function=log_function))
    await get(srv, "/?a=1")
    await get(srv, "/missing")
    assert logged == [(200, "/?a=1"), (404, "/missing")]
    assert not [r for r in caplog.records if r.name == ACCESS]


async def test_uncaught_exception_logged_and_server_keeps_serving(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Boom(RequestHandler):
        def get(self) -> None:
            raise ZeroDivisionError("sync boom")

    class AsyncBoom(RequestHandler):
        async def get(self) -> None:
            await asyncio.sleep(0)
            raise KeyError("async boom")

    class Fine(RequestHandler):
        def get(self) -> None:
            self.write("fine")

    srv = await serve(Application([(r"/boom", Boom), (r"/aboom", AsyncBoom), (r"/", Fine)]))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        for path, exc in (("/boom", ZeroDivisionError), ("/aboom", KeyError)):
            r = await c.get(path)
            assert r.status_code == 500
            assert r.reason_phrase == "Internal Server Error"
            assert "boom" not in r.text  # no traceback without serve_traceback
            assert "<html><title>500: Internal Server Error</title>" in r.text
            recs = [
                rec
                for rec in caplog.records
                if rec.name == APP and rec.exc_info and isinstance(rec.exc_info[1], exc)
            ]
            assert len(recs) == 1, path
            assert recs[0].levelno == logging.ERROR
            assert path in recs[0].getMessage()
            assert (await c.get("/")).text == "fine"  # same keep-alive connection


async def test_exception_in_initialize_gives_500(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Bad(RequestHandler):
        def initialize(self) -> None:
            raise RuntimeError("init failed")

    class Fine(RequestHandler):
        def get(self) -> None:
            self.write("fine")

    srv = await serve(Application([(r"/bad", Bad), (r"/", Fine)]))
    async with httpx.AsyncClient(base_url=srv.base_url) as c:
        r = await c.get("/bad")
        assert r.status_code == 500
        assert (await c.get("/")).text == "fine"
    assert any(r.name == APP and r.exc_info for r in caplog.records)
