"""SIGTERM under steady keep-alive load: how many requests go unanswered.

``python -m tests.support.drain_load --runs 20 --clients 200`` (the figures of issue 17)
starts ``tornadish.run(app, workers=2)`` in a subprocess, drives ``clients`` keep-alive
connections that send requests back to back, sends SIGTERM to the supervisor once the
load is steady, and sorts every request sent:

- ``ok``: a complete ``200`` answer;
- ``lost``: sent, and the connection ended (reset, or EOF) without a complete answer —
  what a graceful shutdown must never do to a request it accepted;
- ``refused``: not a request: a new connection refused once the listeners are closed.

The clients behave as a careful HTTP client does (RFC 9112 §9.3): a connection the
server said ``Connection: close`` on, or that it has closed while idle (its socket polls
readable before the next request is written, urllib3's check), is not reused; a refused
connection ends the client once SIGTERM was sent. Nothing is retried, so every request
the server drops is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import select
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.servers import free_port

SERVER = """
import asyncio, sys
import tornadish
from tornadish.web import Application, RequestHandler

class Work(RequestHandler):
    async def get(self):
        delay = float(self.get_argument("t", "0"))
        if delay:
            await asyncio.sleep(delay)
        self.write("ok")

tornadish.run(
    Application([(r"/", Work)]),
    port=int(sys.argv[1]),
    address="127.0.0.1",
    workers=2,
    grace=float(sys.argv[2]),
)
"""


@dataclass
class Tally:
    """What happened to the requests of one run."""

    ok: int = 0
    lost: int = 0
    refused: int = 0
    ok_after_sigterm: int = 0
    exit_code: int | None = None
    # (seconds after SIGTERM, what went wrong, the request's number on its connection)
    # for each lost request.
    losses: list[tuple[float, str, int]] = field(default_factory=list)

    def __iadd__(self, other: Tally) -> Tally:
        self.ok += other.ok
        self.lost += other.lost
        self.refused += other.refused
        self.ok_after_sigterm += other.ok_after_sigterm
        self.losses += other.losses
        return self


class _Run:
    def __init__(self, port: int) -> None:
        self.port = port
        self.tally = Tally()
        self.sigterm_at: float | None = None

    async def client(self, seed: int) -> None:
        rng = random.Random(seed)
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        sent = 0  # requests sent on this connection
        while True:
            if writer is not None and (reader is None or reader.at_eof() or _dropped(writer)):
                writer.close()  # the server closed it while idle: do not reuse it
                reader = writer = None
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    sent = 0
                except OSError:
                    self.tally.refused += 1
                    if self.sigterm_at is not None:
                        return  # the server has stopped accepting: done
                    await asyncio.sleep(0.01)
                    continue
            assert reader is not None
            # Mostly instant answers, some that take a few milliseconds (in flight
            # when the signal comes).
            delay = rng.choice(("0", "0", "0", "0.002", "0.01"))
            writer.write(f"GET /?t={delay} HTTP/1.1\r\nHost: drain\r\n\r\n".encode())
            sent += 1
            try:
                close = await asyncio.wait_for(_response(reader), 30)
            except (OSError, asyncio.IncompleteReadError, ValueError) as e:
                self._lost(type(e).__name__, sent)
                writer.close()
                reader = writer = None
                if self.sigterm_at is None:
                    await asyncio.sleep(0.01)
                continue
            self.tally.ok += 1
            if self.sigterm_at is not None:
                self.tally.ok_after_sigterm += 1
            if close:
                writer.close()
                reader = writer = None

    def _lost(self, why: str, nth: int) -> None:
        self.tally.lost += 1
        at = -1.0 if self.sigterm_at is None else time.monotonic() - self.sigterm_at
        self.tally.losses.append((round(at, 4), why, nth))


def _dropped(writer: asyncio.StreamWriter) -> bool:
    """Whether an idle connection has been closed by the server: its socket is readable
    (EOF, a reset) with no request outstanding (urllib3's ``wait_for_read(sock,
    timeout=0.0)``; the event loop may not have seen it yet)."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


async def _response(reader: asyncio.StreamReader) -> bool:
    """Read one response; True if it says ``Connection: close``. Raises on a missing or
    incomplete answer."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 200 "):
        raise ValueError(lines[0])
    length = 0
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            close = "close" in value.lower()
    body = await reader.readexactly(length)
    if body != b"ok":
        raise ValueError(body)
    return close


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, path: str = "/") -> None:
    """Wait until the server in ``proc`` answers ``GET path`` on ``port`` with a 200."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("server did not start: " + log.read_text()[-3000:])


async def one_run(
    workdir: Path, clients: int, load_seconds: float, grace: float = 5.0
) -> tuple[Tally, str]:
    """One server, ``clients`` keep-alive clients for ``load_seconds``, SIGTERM; returns
    the tally and the server's log."""
    script = workdir / "drain_server.py"
    script.write_text(textwrap.dedent(SERVER))
    log = workdir / "drain_server.log"
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(port), str(grace)],
            stdout=out,
            stderr=out,
            env=env,
            start_new_session=True,  # its own process group: the workers too are killed below
        )
    try:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, wait_listening, port, proc, log)
        run = _Run(port)
        tasks = [asyncio.create_task(run.client(i)) for i in range(clients)]
        await asyncio.sleep(load_seconds)
        if any(t.done() for t in tasks):
            for t in tasks:
                if t.done() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        run.sigterm_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(asyncio.gather(*tasks), grace + 15)
        run.tally.exit_code = await loop.run_in_executor(None, proc.wait, grace + 15)
        return run.tally, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


async def runs(count: int, clients: int, load_seconds: float) -> list[tuple[Tally, str]]:
    """``count`` runs in a row, each on a fresh server."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(count):
            results.append(await one_run(Path(tmp), clients, load_seconds))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--load-seconds", type=float, default=1.0)
    args = parser.parse_args()
    total = Tally()
    results = asyncio.run(runs(args.runs, args.clients, args.load_seconds))
    for i, (tally, _log) in enumerate(results, 1):
        total += tally
        print(
            f"run {i:2}: ok {tally.ok:6}  ok after SIGTERM {tally.ok_after_sigterm:4}  "
            f"lost {tally.lost:3}  refused {tally.refused:4}  exit {tally.exit_code}  "
            f"{tally.losses[:5] if tally.losses else ''}"
        )
    bad_runs = sum(1 for t, _ in results if t.lost)
    print(
        f"total: {total.ok} answered, {total.lost} lost in {bad_runs} of {len(results)} runs "
        f"({args.clients} clients, workers=2)"
    )


if __name__ == "__main__":
    main()
