"""WSGIContainer over real sockets: where the WSGI application runs (the loop's thread by
default, as in Tornado 6, or a given executor) and what its environ says about it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterable
from typing import Any

import httpx

from tornadish.routing import RuleRouter
from tornadish.wsgi import WSGIContainer


def make_app(log: list[tuple[str, bool, bool]]) -> Any:
    barrier = threading.Barrier(2, timeout=0.2)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        log.append(
            (
                environ["PATH_INFO"],
                threading.current_thread() is threading.main_thread(),
                environ["wsgi.multithread"],
            )
        )
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            barrier.wait()  # meets its twin only when two requests run at once
        except threading.BrokenBarrierError:
            return [b"alone"]
        return [b"together"]

    return app


async def fetch_twice(port: int, path: str) -> list[str]:
    async with httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{port}{path}"
        responses = await asyncio.gather(client.get(url), client.get(url))
    return [r.text for r in responses]


async def test_wsgi_runs_on_the_loop_thread_by_default_and_in_a_given_executor(
    serve: Any,
) -> None:
    log: list[tuple[str, bool, bool]] = []
    pool = concurrent.futures.ThreadPoolExecutor(2)
    router = RuleRouter(
        [
            ("/loop", WSGIContainer(make_app(log))),
            ("/pool", WSGIContainer(make_app(log), executor=pool)),
        ]
    )
    srv = await serve(router)
    try:
        # On the loop's thread, one request at a time (what a non-thread-safe app needs).
        assert await fetch_twice(srv.port, "/loop") == ["alone", "alone"]
        assert log == [("/loop", True, False)] * 2
        log.clear()
        # In the executor, concurrently.
        assert await fetch_twice(srv.port, "/pool") == ["together", "together"]
        assert log == [("/pool", False, True)] * 2
    finally:
        pool.shutdown()


def test_tornado_helper_names() -> None:
    from tornadish.httputil import HTTPServerRequest
    from tornadish.wsgi import HTTPRequest, to_wsgi_str

    assert to_wsgi_str("café".encode()) == "caf\xc3\xa9"
    assert HTTPRequest is HTTPServerRequest
