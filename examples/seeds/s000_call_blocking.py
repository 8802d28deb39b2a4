"""Seed 000, "COROUTINE PATTERNS", "CALL BLOCKING METHOD".

Verbatim but for ``tornado`` → ``tornadish``; ``blocking_func`` and ``args`` are
harness names the slide leaves undefined.
"""

import threading  # harness

from tornadish.ioloop import IOLoop

calls = []  # harness
args = "payload"  # harness


def blocking_func(arg):  # harness
    calls.append((arg, threading.current_thread() is threading.main_thread()))  # harness


async def call_blocking():
    await IOLoop.current().run_in_executor(None, blocking_func, args)
