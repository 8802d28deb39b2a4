"""Real proxy servers for the client's proxy tests: tinyproxy (HTTP forwarding and
CONNECT) and microsocks (SOCKS5), each on a free loopback port, stopped afterwards.

A missing binary is installed with ``apt-get`` when running as root (Debian packages
``tinyproxy`` and ``microsocks``); otherwise the test is skipped, naming the package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.support.seed_services import _ensure_binary, _wait_port, free_port, stop


@dataclass
class ProxyServer:
    scheme: str
    port: int
    user: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        auth = f"{self.user}:{self.password}@" if self.user is not None else ""
        return f"{self.scheme}://{auth}127.0.0.1:{self.port}"


@contextmanager
def _run(command: list[str], port: int) -> Iterator[None]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        yield
    finally:
        stop(proc)


@contextmanager
def tinyproxy(user: str | None = None, password: str | None = None) -> Iterator[ProxyServer]:
    """tinyproxy on 127.0.0.1: forwards plain HTTP (adding ``Via``) and opens CONNECT
    tunnels to any port; with ``user``, Basic proxy authentication is required."""
    binary = _ensure_binary(["tinyproxy"], "tinyproxy")
    port = free_port()
    where = tempfile.mkdtemp(prefix="tinyproxy-")
    lines = [
        f"Port {port}",
        "Listen 127.0.0.1",
        "Timeout 30",
        "Allow 127.0.0.1",
        "LogLevel Warning",
        "MaxClients 100",
    ]
    if user is not None:
        lines.append(f"BasicAuth {user} {password}")
    config = os.path.join(where, "tinyproxy.conf")
    with open(config, "w") as f:
        f.write("\n".join(lines) + "\n")
    try:
        with _run([binary, "-d", "-c", config], port):
            yield ProxyServer("http", port, user, password)
    finally:
        shutil.rmtree(where, ignore_errors=True)


@contextmanager
def microsocks(user: str | None = None, password: str | None = None) -> Iterator[ProxyServer]:
    """microsocks on 127.0.0.1: a SOCKS5 server, with username/password auth if given."""
    binary = _ensure_binary(["microsocks"], "microsocks")
    port = free_port()
    command = [binary, "-i", "127.0.0.1", "-p", str(port)]
    if user is not None:
        command += ["-u", user, "-P", password or ""]
    with _run(command, port):
        yield ProxyServer("socks5", port, user, password)
