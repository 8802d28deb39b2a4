"""Benchmark app on aiohttp.web: the same routes, uvloop, access log off.

Run: ``python -m bench.apps.aiohttp_app --port 8888``.
"""

from __future__ import annotations

import asyncio

from bench.apps._common import announce, parse_args, run_on_uvloop, skip

try:
    from aiohttp import web
except ImportError as exc:
    skip("aiohttp", exc)


async def hello(request: web.Request) -> web.Response:
    # Same Content-Type as Tornado's default for str bodies.
    return web.Response(text="Hello, world", content_type="text/html", charset="UTF-8")


async def user(request: web.Request) -> web.Response:
    uid = int(request.match_info["user_id"])
    return web.json_response({"id": uid, "q": request.query["q"], "name": f"user{uid}"})


def make_app() -> web.Application:
    app = web.Application()
    app.add_routes([web.get("/", hello), web.get(r"/user/{user_id:\d+}", user)])
    return app


async def main() -> None:
    args = parse_args(__doc__ or "")
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    announce("aiohttp", args.host, args.port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    run_on_uvloop(main)
