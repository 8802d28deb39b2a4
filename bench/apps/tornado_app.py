"""Benchmark app on Tornado 6, written exactly like an ordinary Tornado app.

Run: ``python -m bench.apps.tornado_app --port 8888`` (uvloop, access log off).
"""

from __future__ import annotations

import asyncio
import logging

from bench.apps._common import announce, parse_args, run_on_uvloop, skip

try:
    from tornado.httpserver import HTTPServer
    from tornado.web import Application, RequestHandler
except ImportError as exc:  # the package may not exist yet: let the harness skip us
    skip("tornado", exc)


class MainHandler(RequestHandler):
    def get(self) -> None:
        self.write("Hello, world")


class UserHandler(RequestHandler):
    def get(self, user_id: str) -> None:
        uid = int(user_id)
        self.write({"id": uid, "q": self.get_argument("q"), "name": f"user{uid}"})


def _no_access_log(handler: RequestHandler) -> None:
    """``log_function`` that does nothing, so access logging costs nothing."""


def make_app() -> Application:
    return Application(
        [
            (r"/", MainHandler),
            (r"/user/(\d+)", UserHandler),
        ],
        log_function=_no_access_log,
    )


async def main() -> None:
    args = parse_args(__doc__ or "")
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    server = HTTPServer(make_app())
    server.listen(args.port, args.host)
    announce("tornado", args.host, args.port)
    await asyncio.Event().wait()


if __name__ == "__main__":
    run_on_uvloop(main)
