"""Graceful shutdown of an :class:`~.httpserver.HTTPServer`.

The order matters: stop accepting first (so the set of connections can only shrink),
then switch keep-alive off server-wide and close every idle connection, so that each busy
connection closes right after the response it is writing. Requests in progress get
``grace`` seconds; whatever is left is closed, then aborted if its peer does not read.
The server's shutdown hooks run last, once no handler can still be using what they
release (database pools and the like).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING

from tornadish.log import gen_log

if TYPE_CHECKING:
    from tornadish._server.httpserver import HTTPServer

__all__ = ["shutdown_server"]

# After a forced close, how long a peer that reads nothing may hold its buffered output.
_ABORT_AFTER = 1.0


async def shutdown_server(server: HTTPServer, grace: float = 30.0) -> None:
    """Shut ``server`` down gracefully (what :meth:`HTTPServer.shutdown` runs)."""
    server.stop()
    # Requests whose head arrives from now on are answered with ``Connection: close``.
    server.params.no_keep_alive = True
    for handshake in list(server._handshakes):
        handshake.cancel()  # no request sent yet: as good as idle
    for conn in list(server._connections):
        conn.close_when_idle()
    if not await _wait_empty(server, grace):
        remaining = list(server._connections)
        gen_log.warning(
            "Shutdown grace period of %.1fs over: closing %d connection(s)",
            grace,
            len(remaining),
        )
        for conn in remaining:
            conn.close()
        if not await _wait_empty(server, _ABORT_AFTER):
            for conn in list(server._connections):
                transport = conn.transport
                if transport is not None:
                    transport.abort()
            await _wait_empty(server, _ABORT_AFTER)
    await run_hooks(server)


async def _wait_empty(server: HTTPServer, timeout: float) -> bool:
    """Wait until ``server`` has no connections; False if ``timeout`` passed first."""
    connections = server._connections
    if not connections:
        return True
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    connections.empty_waiters.append(waiter)
    try:
        await asyncio.wait_for(asyncio.shield(waiter), timeout)
    except asyncio.TimeoutError:
        return False
    return True


async def run_hooks(server: HTTPServer) -> None:
    """Run the server's shutdown hooks in the order added; errors are logged, not
    raised, so that one failing hook does not skip the others."""
    hooks, server._shutdown_hooks = server._shutdown_hooks, []
    for hook in hooks:
        try:
            result = hook()
            if inspect.isawaitable(result):
                await result
        except Exception:
            gen_log.exception("Exception in shutdown hook %r", hook)
