"""Processes, with Tornado's names: forking server workers, and child processes.

- :func:`fork_processes` forks workers that share listening sockets (``HTTPServer.start(n)``
  and ``tornadish.run(workers=n)`` use it); :func:`task_id` tells a worker its number;
  :func:`cpu_count` the processors available.
- :class:`Subprocess` starts a child with ``subprocess.Popen``, its pipes as
  ``PipeIOStream`` objects (``Subprocess.STREAM``), and tells when it exits
  (``set_exit_callback``, ``await wait_for_exit()``).

>>> import asyncio
>>> async def main():
...     child = Subprocess(["printf", "hello"], stdout=Subprocess.STREAM)
...     return await child.stdout.read_until_close()
>>> asyncio.run(main())
b'hello'
"""

from __future__ import annotations

from tornadish._io.processes import cpu_count, fork_processes, task_id
from tornadish._io.subprocess import CalledProcessError, Subprocess

__all__ = ["CalledProcessError", "Subprocess", "cpu_count", "fork_processes", "task_id"]
