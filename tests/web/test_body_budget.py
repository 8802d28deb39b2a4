"""The memory budget for whole request bodies (``body_memory_budget``, issue 19): the
budget itself, then many clients posting large bodies at once to a plain handler over
real sockets — every one answered, the bodies intact, memory held to the budget (and,
in a server subprocess, its RSS)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tornadish._web.body_buffer import BodyBudget
from tornadish.web import Application, RequestHandler

from tests.support.procstat import vm
from tests.support.servers import free_port

# -- the budget -----------------------------------------------------------------------


async def test_budget_grants_in_order_and_lets_an_oversized_body_go_alone() -> None:
    budget = BodyBudget(100)
    assert budget.try_take(60)
    assert not budget.try_take(50)
    order: list[str] = []

    async def take(name: str, n: int) -> None:
        await budget.take(n)
        order.append(name)

    first = asyncio.ensure_future(take("fifty", 50))
    second = asyncio.ensure_future(take("ten", 10))  # fits, but waits its turn (FIFO)
    await asyncio.sleep(0)
    assert order == [] and not budget.try_take(1)  # nobody overtakes the line
    budget.give(60)
    await asyncio.gather(first, second)
    assert order == ["fifty", "ten"] and budget.used == 60
    # More than the whole budget: it waits until nothing is held, then goes alone.
    huge = asyncio.ensure_future(take("huge", 500))
    await asyncio.sleep(0)
    assert order == ["fifty", "ten"]
    budget.give(60)
    await huge
    assert budget.used == 500
    budget.give(500)
    assert budget.used == 0


async def test_a_cancelled_waiter_leaves_the_line() -> None:
    budget = BodyBudget(10)
    assert budget.try_take(10)
    waiting = asyncio.ensure_future(budget.take(5))
    behind = asyncio.ensure_future(budget.take(5))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.sleep(0)
    budget.give(10)
    await behind
    assert budget.used == 5


# -- over the wire ----------------------------------------------------------------------


class Digest(RequestHandler):
    """Answers the body's length and SHA-256; notes the most memory held at once."""

    peak = 0

    async def post(self) -> None:
        budget = self.application.body_budget
        Digest.peak = max(Digest.peak, budget.used)
        await asyncio.sleep(0.01)  # hold the body a little, as real work would
        body = self.request.body
        self.finish({"size": len(body), "sha": hashlib.sha256(body).hexdigest()})


async def post_body(port: int, body: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    writer.write(head.encode())
    for i in range(0, len(body), 256 * 1024):
        writer.write(body[i : i + 256 * 1024])
        await writer.drain()
    data = await asyncio.wait_for(reader.read(65536), 60)
    writer.close()
    return data


@pytest.mark.timeout_async(60)
async def test_many_large_bodies_at_once_stay_within_the_budget(serve: Any, tmp_path: Path) -> None:
    budget, size, clients = 4 << 20, 1 << 20, 24  # 24 MiB arriving for a 4 MiB budget
    app = Application(
        [(r"/d", Digest)],
        body_memory_budget=budget,
        upload_spool_threshold=128 * 1024,
        upload_tmp_dir=str(tmp_path),
    )
    Digest.peak = 0
    srv = await serve(app, max_body_size=16 << 20)
    bodies = [os.urandom(size) for _ in range(clients)]
    replies = await asyncio.gather(*(post_body(srv.port, b) for b in bodies))
    for body, reply in zip(bodies, replies, strict=True):
        assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
        assert hashlib.sha256(body).hexdigest().encode() in reply
    assert 0 < Digest.peak <= budget  # never more held at once than the budget
    await asyncio.sleep(0.05)
    assert app.body_budget.used == 0  # every body's share returned
    assert os.listdir(tmp_path) == []  # and no file left behind


async def test_small_bodies_stay_in_memory_and_an_abandoned_one_frees_its_share(
    serve: Any, tmp_path: Path
) -> None:
    app = Application([(r"/d", Digest)], body_memory_budget=1 << 20)
    srv = await serve(app)
    reply = await post_body(srv.port, b"x" * 1000)
    assert b'"size": 1000' in reply and app.body_budget.used == 0
    # A client that leaves mid-body: its buffered share comes back.
    _, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"y" * 5000)
    await writer.drain()
    for _ in range(100):
        if app.body_budget.used:
            break
        await asyncio.sleep(0.01)
    assert app.body_budget.used == 5000
    writer.close()
    for _ in range(100):
        if not app.body_budget.used:
            break
        await asyncio.sleep(0.01)
    assert app.body_budget.used == 0


SERVER = """
import asyncio, hashlib, sys
from tornadish.web import Application, RequestHandler
class Digest(RequestHandler):
    def post(self):
        self.finish({"size": len(self.request.body)})
async def main():
    app = Application([(r"/d", Digest)], body_memory_budget=int(sys.argv[2]),
                      upload_tmp_dir=sys.argv[3])
    app.listen(int(sys.argv[1]), "127.0.0.1", max_body_size=1 << 30)
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def _rss_growth(tmp_path: Path, clients: int, size: int, budget: int) -> int:
    """Peak RSS growth of a server subprocess while ``clients`` post ``size`` bytes each
    at once to a plain handler under ``budget``; every one must be answered."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(budget), str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        await post_body(port, os.urandom(1 << 20))  # warm up
        before = vm(proc.pid, "VmRSS")
        body = os.urandom(size)
        replies = await asyncio.gather(*(post_body(port, body) for _ in range(clients)))
        assert all(f'"size": {size}'.encode() in r for r in replies), replies[0][:200]
        growth = vm(proc.pid, "VmHWM") - before
        print(
            f"\n{clients} x {size >> 20} MiB posted at once, budget {budget >> 20} MiB: "
            f"peak RSS growth {growth >> 20} MiB"
        )
        return growth
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.timeout(120)
@pytest.mark.timeout_async(100)
async def test_server_rss_is_bounded_by_the_budget(tmp_path: Path) -> None:
    # 240 MiB arriving at once for a 16 MiB budget: measured 37 MiB of growth (99 MiB
    # with the budget out of the way, 240+ MiB before bodies were spooled at all).
    assert await _rss_growth(tmp_path, 40, 6 << 20, 16 << 20) < 64 << 20
