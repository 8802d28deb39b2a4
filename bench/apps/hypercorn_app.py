"""Benchmark app on Starlette, served by hypercorn (HTTP/1.1 and HTTP/2): the same
routes as the others, uvloop, access log off.

HTTP/2 by prior knowledge over cleartext (hypercorn takes the connection preface on its
HTTP/1.1 port), as tornadish's ``--http2`` does; ``/hold`` is a stream whose head goes
out at once and whose body never comes (for :mod:`bench.h2_bench`'s memory per stream).

Run: ``python -m bench.apps.hypercorn_app --port 8888``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from bench.apps._common import announce, parse_args, run_on_uvloop, skip

try:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
    from starlette.routing import Route
except ImportError as exc:
    skip("hypercorn/starlette", exc)


async def hello(request: Request) -> HTMLResponse:
    return HTMLResponse("Hello, world")


async def user(request: Request) -> JSONResponse:
    uid = request.path_params["user_id"]
    return JSONResponse({"id": uid, "q": request.query_params["q"], "name": f"user{uid}"})


async def _never() -> AsyncIterator[bytes]:
    await asyncio.Event().wait()
    yield b""


async def hold(request: Request) -> StreamingResponse:
    return StreamingResponse(_never(), media_type="text/plain")


app = Starlette(
    routes=[Route("/", hello), Route("/user/{user_id:int}", user), Route("/hold", hold)]
)


async def main() -> None:
    args = parse_args(__doc__ or "")
    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.accesslog = None
    config.errorlog = None
    config.loglevel = "WARNING"
    started = asyncio.get_running_loop().create_future()
    # (hypercorn's ASGI types are narrower than Starlette's signature says.)
    asgi: Any = app
    serving = asyncio.ensure_future(serve(asgi, config, shutdown_trigger=lambda: started))
    # hypercorn binds inside serve(): announce once the port takes connections.
    while not serving.done():
        try:
            _, writer = await asyncio.open_connection(args.host, args.port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        announce("hypercorn", args.host, args.port)
        break
    await serving


if __name__ == "__main__":
    run_on_uvloop(main)
