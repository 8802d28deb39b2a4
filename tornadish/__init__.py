"""tornadish: a Tornado-shaped web framework on asyncio, h11, wsproto and Jinja2.

Import from the modules, as with Tornado: ``from tornadish.web import Application``.
Two helpers live at the top: ``tornadish.run(app, port=...)`` (production: signals,
graceful shutdown, worker processes) and ``async with tornadish.serve(app) as server``
(inside an event loop you own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

version = "0.1.0"
version_info = (0, 1, 0, 0)

__all__ = ["run", "serve", "version", "version_info"]

if TYPE_CHECKING:
    from tornadish._runner.run import run
    from tornadish._runner.serve import serve


def __getattr__(name: str) -> Any:
    # Lazy, so that ``import tornadish`` stays cheap (no server or loop machinery).
    if name == "serve":
        from tornadish._runner.serve import serve

        return serve
    if name == "run":
        from tornadish._runner.run import run

        return run
    raise AttributeError(f"module 'tornadish' has no attribute {name!r}")
