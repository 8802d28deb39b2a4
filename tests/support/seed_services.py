"""Throwaway real servers for the seed examples: redis-server and PostgreSQL.

Each starts on a free loopback port in a temp dir and is stopped afterwards. A missing
binary is installed with ``apt-get install -y`` when running as root (Debian packages
``redis-server`` / ``postgresql``); otherwise the test is skipped, naming the package.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port} in time")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a service started here: terminate it, kill it if it is not gone in 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _ensure_binary(names: list[str], package: str) -> str:
    for name in names:
        found = shutil.which(name) or next(iter(sorted(glob.glob(name))), None)
        if found:
            return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"{names[0]} not installed (Debian package {package!r}); not root to install")
    proc = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", package],
        capture_output=True,
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
        timeout=600,
    )
    if proc.returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", package],
            capture_output=True,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
            timeout=600,
        )
    for name in names:
        found = shutil.which(name) or next(iter(sorted(glob.glob(name))), None)
        if found:
            return found
    pytest.skip(f"could not install {package!r} to get {names[0]}")


@dataclass
class Service:
    host: str
    port: int


def redis_server() -> Iterator[Service]:
    binary = _ensure_binary(["redis-server"], "redis-server")
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="seed-redis-")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            tmp,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc)
        yield Service("127.0.0.1", port)
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def postgres_server() -> Iterator[Service]:
    pattern = "/usr/lib/postgresql/*/bin/"
    initdb = _ensure_binary(["initdb", pattern + "initdb"], "postgresql")
    postgres = os.path.join(os.path.dirname(os.path.realpath(initdb)), "postgres")
    if not os.path.exists(postgres):
        postgres = shutil.which("postgres") or postgres
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="seed-pg-")
    data = os.path.join(tmp, "data")
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        import pwd

        user = "postgres"
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            user, pw = "nobody", pwd.getpwnam("nobody")
        os.chmod(tmp, 0o755)
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", user, "--"]
    subprocess.run(
        [*prefix, initdb, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    proc = subprocess.Popen(
        [
            *prefix,
            postgres,
            "-D",
            data,
            "-k",
            tmp,
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-F",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc)
        time.sleep(0.3)  # the port opens a moment before connections are accepted
        yield Service("127.0.0.1", port)
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
