"""Benchmark app on Starlette, served by uvicorn: the same routes, uvloop, access log off.

``--http httptools`` (llhttp, uvicorn's default where installed) or ``--http h11``.

Run: ``python -m bench.apps.uvicorn_app --port 8888 --http h11``.
"""

from __future__ import annotations

import asyncio

from bench.apps._common import announce, parse_args, run_on_uvloop, skip

try:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route
except ImportError as exc:
    skip("uvicorn/starlette", exc)


async def hello(request: Request) -> HTMLResponse:
    return HTMLResponse("Hello, world")


async def user(request: Request) -> JSONResponse:
    uid = request.path_params["user_id"]
    return JSONResponse({"id": uid, "q": request.query_params["q"], "name": f"user{uid}"})


app = Starlette(routes=[Route("/", hello), Route("/user/{user_id:int}", user)])


async def main() -> None:
    args = parse_args(__doc__ or "", http=("httptools", "h11"))
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http=args.http,
        access_log=False,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)
    if server.started:
        announce("uvicorn", args.host, args.port, http=args.http)
    await serving


if __name__ == "__main__":
    run_on_uvloop(main)
