"""Graceful shutdown of an :class:`~.httpserver.HTTPServer`: the drain.

The order matters:

1. Stop accepting, so the set of connections can only shrink. Connections the kernel
   has already accepted for us (queued on a listening socket; with ``SO_REUSEPORT`` a
   closed listener resets its queue instead of passing it to another worker) are taken
   from the queue first and served like the others: nothing accepted goes unanswered.
   A worker whose siblings stop too (``tornadish.run(workers=N)``) then serves on as
   usual for a moment (``siblings_delay``) before any client is told to leave, so that
   the clients' new connections do not land in a sibling's queue as it closes.
2. Switch keep-alive off server-wide and start the server's
   :class:`~tornadish._io.drain.Drain`: ``RequestHandler.shutting_down`` completes, so
   event streams end and long polls answer. Every busy connection closes right after
   the response it is writing, every idle one once it has been quiet for a moment
   (``connection``'s rule 6: a request already on its way is answered, not reset), every
   WebSocket with 1001 (Going Away).
3. Requests in progress, and the tasks of coroutine handlers, get ``grace`` seconds.
   Whatever is left then is closed (``on_connection_close`` runs), the handlers' tasks
   are cancelled and given a moment to unwind, so their ``finally`` blocks and
   ``on_finish`` run, and connections that still hold output are aborted if their peer
   does not read it.
4. The server's shutdown hooks run last, once no handler can still be using what they
   release (database pools and the like).
"""

from __future__ import annotations

import asyncio
import inspect
import socket
from typing import TYPE_CHECKING

from tornadish.log import gen_log

if TYPE_CHECKING:
    from tornadish._server.httpserver import HTTPServer

__all__ = ["accept_queued", "shutdown_server"]

# After a forced close, how long a peer that reads nothing may hold its buffered output.
_ABORT_AFTER = 1.0
# Once grace is over: how long cancelled handlers get to unwind (finally, on_finish).
_UNWIND = 5.0


async def shutdown_server(
    server: HTTPServer, grace: float = 30.0, *, siblings_delay: float = 0.0
) -> None:
    """Shut ``server`` down gracefully (what :meth:`HTTPServer.shutdown` runs).

    ``siblings_delay``: seconds to go on serving keep-alive connections as usual once
    the listeners are closed, before telling any client to leave, for a worker whose
    sibling processes are stopping too (step 1 of the module's order): they close their
    listeners meanwhile, so our clients' new connections are refused, not caught in a
    sibling's accept queue as it closes (where the kernel resets them).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    params = server.params
    drain = params.drain
    adopted = accept_queued(server)
    server.stop()
    for handshake in list(server._handshakes):
        handshake.cancel()  # no request sent yet: as good as idle
    if adopted:
        # (Each registers its connection, closed below with the others.)
        await asyncio.gather(*adopted, return_exceptions=True)
    if siblings_delay > 0:
        await asyncio.sleep(min(siblings_delay, grace))
    # Requests whose head arrives from now on are answered with ``Connection: close``;
    # a connection made from now on closes once answered or quiet.
    params.no_keep_alive = True
    drain.start()
    for conn in list(server._connections):
        conn.close_when_idle()
    drained = await _wait_empty(server, deadline - loop.time()) and await drain.wait(
        deadline - loop.time()
    )
    if not drained:
        remaining = list(server._connections)
        gen_log.warning(
            "Shutdown grace period of %.1fs over: closing %d connection(s), "
            "cancelling %d handler task(s)",
            grace,
            len(remaining),
            drain.held,
        )
        for conn in remaining:
            conn.close()  # their handlers hear on_connection_close
        await asyncio.sleep(0)  # (which may end some of them without a cancel)
        stuck = await drain.cancel(_UNWIND)
        if stuck:
            gen_log.warning("%d handler task(s) did not finish after being cancelled", stuck)
        if not await _wait_empty(server, _ABORT_AFTER):
            for conn in list(server._connections):
                transport = conn.transport
                if transport is not None:
                    transport.abort()
            await _wait_empty(server, _ABORT_AFTER)
    await run_hooks(server)


def accept_queued(server: HTTPServer) -> list[asyncio.Task[object]]:
    """Accept the connections queued on ``server``'s listening sockets, which closing
    them would reset, and serve each (returns the tasks that set them up)."""
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[object]] = []
    for sock in list(server._served):
        sock.setblocking(False)  # (asyncio's server made it so; an empty queue must not block)
        while True:
            try:
                conn, _address = sock.accept()
            except OSError:  # BlockingIOError: the queue is empty
                break
            conn.setblocking(False)
            tasks.append(loop.create_task(_adopt(server, conn)))
    return tasks


async def _adopt(server: HTTPServer, conn: socket.socket) -> object:
    loop = asyncio.get_running_loop()
    try:
        return await loop.connect_accepted_socket(server._make_protocol, conn)
    except OSError as e:
        gen_log.debug("Connection taken from the accept queue failed: %r", e)
        conn.close()
        return None


async def _wait_empty(server: HTTPServer, timeout: float) -> bool:
    """Wait until ``server`` has no connections; False if ``timeout`` passed first."""
    connections = server._connections
    if not connections:
        return True
    if timeout <= 0:
        return False
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
