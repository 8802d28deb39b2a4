"""Benchmark app on tornadish, written exactly like an ordinary Tornado app.

Run: ``python -m bench.apps.tornadish_app --port 8888`` (uvloop, access log off);
``--http2`` serves HTTP/2 as well (prior knowledge on the same port), with a ``/hold``
route whose streams stay open (:mod:`bench.h2_bench` measures memory per stream with it).
"""

from __future__ import annotations

import asyncio
import logging

from bench.apps._common import announce, parse_args, run_on_uvloop, skip

try:
    from tornadish.httpserver import HTTPServer
    from tornadish.web import Application, RequestHandler
except ImportError as exc:  # the package may not exist yet: let the harness skip us
    skip("tornadish", exc)


class MainHandler(RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


class UserHandler(RequestHandler):
    def get(self, user_id: str) -> None:
        uid = int(user_id)
        self.write({"id": uid, "q": self.get_argument("q"), "name": f"user{uid}"})


class HoldHandler(RequestHandler):
    """A long-lived stream: the head goes out at once, the body never comes."""

    async def get(self) -> None:
        await self.flush()
        await asyncio.Event().wait()


def _no_access_log(handler: RequestHandler) -> None:
    """``log_function`` that does nothing, so access logging costs nothing."""


def make_app(hold: bool = False) -> Application:
    routes: list[tuple[str, type[RequestHandler]]] = [
        (r"/", MainHandler),
        (r"/user/(\d+)", UserHandler),
    ]
    if hold:
        routes.append((r"/hold", HoldHandler))
    return Application(routes, log_function=_no_access_log)


async def main() -> None:
    args = parse_args(__doc__ or "", flags=("--http2",))
    logging.getLogger("tornadish.access").setLevel(logging.WARNING)
    server = HTTPServer(make_app(hold=args.http2), http2=args.http2)
    server.listen(args.port, args.host)
    announce("tornadish", args.host, args.port, **({"h2": "on"} if args.http2 else {}))
    await asyncio.Event().wait()


if __name__ == "__main__":
    run_on_uvloop(main)
