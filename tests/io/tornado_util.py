"""The parts of Tornado 6.6.1's ``tornado/test/util.py`` that the ported ``tcpserver`` and
``tcpclient`` tests use, on ``tornadish.testing``."""

from __future__ import annotations

import os
import socket
import sys
import unittest
from collections.abc import Callable

import tornadish.testing
from tornadish.testing import bind_unused_port


class TestCase(unittest.TestCase):
    """``unittest.TestCase`` that fails if the test logs anything unexpected."""

    def setUp(self) -> None:
        no_logs = self.assertNoLogs()
        no_logs.__enter__()
        self.addCleanup(no_logs.__exit__, None, None, None)
        super().setUp()


class AsyncTestCase(tornadish.testing.AsyncTestCase):
    """``tornadish.testing.AsyncTestCase`` with the :class:`TestCase` log check."""

    def setUp(self) -> None:
        no_logs = self.assertNoLogs()
        no_logs.__enter__()
        self.addCleanup(no_logs.__exit__, None, None, None)
        super().setUp()


skipIfNonUnix = unittest.skipIf(os.name != "posix" or sys.platform == "cygwin", "non-unix platform")


def _detect_ipv6() -> bool:
    if not socket.has_ipv6:
        return False
    sock = None
    try:
        sock = socket.socket(socket.AF_INET6)
        sock.bind(("::1", 0))
    except OSError:
        return False
    finally:
        if sock is not None:
            sock.close()
    return True


skipIfNoIPv6 = unittest.skipIf(not _detect_ipv6(), "ipv6 support not present")


def refusing_port() -> tuple[Callable[[], None], int]:
    """A local port that refuses every connection, and the function that frees it.

    The port is the ephemeral port of a connected client socket, so nothing else can
    listen on it while that socket is open.
    """
    server_socket, port = bind_unused_port()
    server_socket.setblocking(True)
    client_socket = socket.socket()
    client_socket.connect(("127.0.0.1", port))
    conn, client_addr = server_socket.accept()
    conn.close()
    server_socket.close()
    return (client_socket.close, client_addr[1])
