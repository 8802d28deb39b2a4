"""A process's memory figures from ``/proc/PID/status`` (Linux), for the tests that
bound a server's memory."""

from __future__ import annotations


def vm(pid: int, key: str) -> int:
    """``key`` (``"VmRSS"``, ``"VmHWM"``, ...) of process ``pid``, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)
