"""tornadish: a Tornado-shaped web framework on asyncio, h11, wsproto and Jinja2.

As with Tornado 6.3+, ``import tornadish`` is enough to reach every public module:
``tornadish.web.Application``, ``tornadish.ioloop.IOLoop`` ... — each submodule is
imported on first use, so the package itself stays cheap to import. Two helpers live at
the top: ``tornadish.run(app, port=...)`` (production: signals, graceful shutdown,
worker processes) and ``async with tornadish.serve(app) as server`` (inside an event
loop you own).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

version = "0.1.0"
version_info = (0, 1, 0, 0)

# As in Tornado, ``__all__`` names the public submodules only (tools and Tornado's own
# tests import each entry as ``tornadish.<name>``); ``run``, ``serve``, ``version`` and
# ``version_info`` are attributes beside them.
__all__ = [
    "asgi",
    "auth",
    "autoreload",
    "concurrent",
    "escape",
    "gen",
    "http1connection",
    "httpclient",
    "httpserver",
    "httputil",
    "ioloop",
    "iostream",
    "locale",
    "locks",
    "log",
    "metrics",
    "netutil",
    "options",
    "platform",
    "process",
    "pubsub",
    "queues",
    "routing",
    "simple_httpclient",
    "sse",
    "tcpclient",
    "tcpserver",
    "template",
    "testing",
    "util",
    "web",
    "websocket",
    "wsgi",
]

#: The public submodules, reachable as attributes of the package (imported lazily).
SUBMODULES = tuple(__all__)

if TYPE_CHECKING:
    from tornadish import (
        asgi,
        auth,
        autoreload,
        concurrent,
        escape,
        gen,
        http1connection,
        httpclient,
        httpserver,
        httputil,
        ioloop,
        iostream,
        locale,
        locks,
        log,
        metrics,
        netutil,
        options,
        platform,
        process,
        pubsub,
        queues,
        routing,
        simple_httpclient,
        sse,
        tcpclient,
        tcpserver,
        template,
        testing,
        util,
        web,
        websocket,
        wsgi,
    )
    from tornadish._runner.run import run as run
    from tornadish._runner.serve import serve as serve


def __getattr__(name: str) -> Any:
    # Lazy, so that ``import tornadish`` stays cheap (no server or loop machinery).
    if name in SUBMODULES:
        return importlib.import_module("." + name, __name__)
    if name == "serve":
        from tornadish._runner.serve import serve

        return serve
    if name == "run":
        from tornadish._runner.run import run

        return run
    raise AttributeError(f"module 'tornadish' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | {"run", "serve"})
