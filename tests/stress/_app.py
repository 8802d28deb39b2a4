"""The server under test, run in its own process: ``python -m tests.stress._app``.

One ordinary Tornado application, imported from ``tornadish`` or from ``tornado``
(``--impl``): the two runs differ only in which package the names come from, so their
figures compare the frameworks and nothing else. The process raises its own file limit,
serves on 127.0.0.1 and prints one line, ``READY <port> <pid>``, once it accepts.

Routes: ``GET /`` (a short text), ``GET /big?n=BYTES`` (a large body, for clients that do
not read), ``POST /echo`` (the body's length, as JSON), ``POST /upload`` (a multipart
form: file names and sizes) and ``/ws`` (a WebSocket that echoes each message).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import resource
import sys
from typing import Any


def raise_nofile_limit(wanted: int | None = None) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (default: the hard
    limit) and return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if wanted is None else min(wanted, hard)
    if hard == resource.RLIM_INFINITY and wanted is None:
        target = 1 << 20
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def make_app(impl: str) -> Any:
    """The test application, built from ``impl``'s ``web`` and ``websocket`` modules."""
    web: Any = importlib.import_module(f"{impl}.web")
    websocket: Any = importlib.import_module(f"{impl}.websocket")

    class Hello(web.RequestHandler):  # type: ignore[misc]
        def get(self) -> None:
            self.write("Hello, world")

    class Big(web.RequestHandler):  # type: ignore[misc]
        def get(self) -> None:
            self.write(b"x" * int(self.get_argument("n", "262144")))

    class Echo(web.RequestHandler):  # type: ignore[misc]
        def post(self) -> None:
            self.write({"len": len(self.request.body)})

    class Upload(web.RequestHandler):  # type: ignore[misc]
        def post(self) -> None:
            files = {
                name: [len(f["body"]) for f in items] for name, items in self.request.files.items()
            }
            self.write({"files": files, "fields": sorted(self.request.body_arguments)})

    class Echo_WS(websocket.WebSocketHandler):  # type: ignore[misc]
        def on_message(self, message: str | bytes) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

    def quiet(handler: Any) -> None:
        """No access log: thousands of lines a second would measure the logger."""

    return web.Application(
        [
            (r"/", Hello),
            (r"/big", Big),
            (r"/echo", Echo),
            (r"/upload", Upload),
            (r"/ws", Echo_WS),
        ],
        log_function=quiet,
    )


async def serve(args: argparse.Namespace) -> None:
    httpserver: Any = importlib.import_module(f"{args.impl}.httpserver")
    netutil: Any = importlib.import_module(f"{args.impl}.netutil")
    settings: dict[str, Any] = {}
    if args.idle_timeout is not None:
        settings["idle_connection_timeout"] = args.idle_timeout
    if args.body_timeout is not None:
        settings["body_timeout"] = args.body_timeout
    if args.header_timeout is not None and args.impl == "tornadish":
        # Tornado has no separate setting: its idle timeout also bounds the head.
        settings["header_timeout"] = args.header_timeout
    server = httpserver.HTTPServer(make_app(args.impl), **settings)
    sockets = netutil.bind_sockets(args.port, "127.0.0.1", backlog=args.backlog)
    server.add_sockets(sockets)
    if hasattr(server, "wait_started"):
        await server.wait_started()
    port = sockets[0].getsockname()[1]
    print(f"READY {port} {os.getpid()}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", choices=["tornadish", "tornado"], default="tornadish")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--backlog", type=int, default=4096)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--idle-timeout", type=float, default=None)
    parser.add_argument("--header-timeout", type=float, default=None)
    parser.add_argument("--body-timeout", type=float, default=None)
    args = parser.parse_args()
    raise_nofile_limit()
    # Warnings and errors reach stderr (the harness counts them); INFO lines such as
    # "timed out reading request headers" are expected under attack and stay quiet.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
