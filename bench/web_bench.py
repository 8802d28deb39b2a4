"""Static files and uploads: tornadish against Tornado and aiohttp, under wrk.

Two routes per framework, each an ordinary app of that framework:

- ``static``: ``GET /static/big.bin``, a 1 MiB file served by the framework's static file
  support (tornadish/Tornado ``static_path``, aiohttp ``add_static``);
- ``upload``: ``POST /upload``, a 10 MiB ``multipart/form-data`` body with one file,
  parsed by the framework (its form API), answered with the file's size.

Every server runs in its own subprocess on uvloop, pinned with ``taskset`` to one CPU;
wrk (with a Lua script for the upload body) is pinned to another. Rounds are interleaved
and rotated as in ``bench/run.py``; the median req/s over rounds is reported, with MB/s
(the file or body size times req/s) and tornadish's ratio to each other framework.

Run: ``python -m bench.web_bench`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
FRAMEWORKS = ("tornadish", "tornado", "aiohttp")
STATIC_SIZE = 1 << 20
UPLOAD_SIZE = 10 << 20
BOUNDARY = "webbenchBoundary0123456789"

# wrk builds the 10 MiB body once per thread; the head and tail frame one file part.
UPLOAD_LUA = """
local boundary = "%(boundary)s"
local head = "--" .. boundary .. "\\r\\n" ..
  'Content-Disposition: form-data; name="f"; filename="big.bin"\\r\\n' ..
  "Content-Type: application/octet-stream\\r\\n\\r\\n"
local tail = "\\r\\n--" .. boundary .. "--\\r\\n"
wrk.method = "POST"
wrk.body = head .. string.rep("x", %(size)d) .. tail
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
"""


# -- the servers (run as ``python -m bench.web_bench --serve NAME``) ---------------------


def _serve(name: str, port: int, static_dir: str) -> None:
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(_SERVERS[name](port, static_dir))


async def _tornadish(port: int, static_dir: str) -> None:
    from tornadish.web import Application, RequestHandler

    class Upload(RequestHandler):
        def post(self) -> None:
            self.write(str(self.request.files["f"][0].size))

    app = Application([(r"/upload", Upload)], static_path=static_dir, log_function=lambda h: None)
    app.listen(port, HOST, max_body_size=64 << 20)
    await _ready()


async def _tornado(port: int, static_dir: str) -> None:
    from tornado.web import Application, RequestHandler

    class Upload(RequestHandler):
        def post(self) -> None:
            self.write(str(len(self.request.files["f"][0]["body"])))

    app = Application([(r"/upload", Upload)], static_path=static_dir, log_function=lambda h: None)
    app.listen(port, HOST, max_body_size=64 << 20)
    await _ready()


async def _aiohttp(port: int, static_dir: str) -> None:
    from aiohttp import web

    async def upload(request: web.Request) -> web.Response:
        form = await request.post()
        field: Any = form["f"]
        size = field.file.seek(0, os.SEEK_END)
        return web.Response(text=str(size))

    app = web.Application(client_max_size=64 << 20)
    app.router.add_post("/upload", upload)
    app.router.add_static("/static/", static_dir)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    await _ready()


async def _ready() -> None:
    print("READY", flush=True)
    await asyncio.Event().wait()


_SERVERS = {"tornadish": _tornadish, "tornado": _tornado, "aiohttp": _aiohttp}


# -- the harness ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _cpu_prefixes() -> tuple[list[str], list[str]]:
    cpus = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None or len(cpus) < 2:
        return [], []  # not pinned: one CPU, or no taskset
    return ["taskset", "-c", str(cpus[0])], ["taskset", "-c", ",".join(map(str, cpus[1:]))]


class _Server:
    def __init__(self, name: str, static_dir: str, pin: list[str]) -> None:
        self.name = name
        self.port = _free_port()
        cmd = [*pin, sys.executable, "-m", "bench.web_bench", "--serve", name]
        cmd += ["--port", str(self.port), "--static-dir", static_dir]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "READY":
            self.stop()
            raise RuntimeError(f"{name} did not start: {line!r}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _check(server: _Server) -> None:
    """One request per route with a plain client: right answers before any timing."""
    import http.client

    conn = http.client.HTTPConnection(HOST, server.port, timeout=30)
    conn.request("GET", "/static/big.bin")
    body = conn.getresponse().read()
    assert len(body) == STATIC_SIZE, (server.name, len(body))
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    payload = head + b"x" * UPLOAD_SIZE + f"\r\n--{BOUNDARY}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    conn.request("POST", "/upload", payload, headers)
    answer = conn.getresponse().read()
    assert answer == str(UPLOAD_SIZE).encode(), (server.name, answer[:200])
    conn.close()


def _wrk(pin: list[str], url: str, seconds: int, conns: int, script: str | None) -> float:
    cmd = [*pin, "wrk", "-t1", f"-c{conns}", f"-d{seconds}s"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--serve", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--static-dir", help=argparse.SUPPRESS)
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run (5)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    p.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    p.add_argument("--apps", default=",".join(FRAMEWORKS), help="comma-separated subset")
    args = p.parse_args(argv)
    if args.serve:
        _serve(args.serve, args.port, args.static_dir)
        return 0
    if shutil.which("wrk") is None:
        print("wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2

    names = [n for n in args.apps.split(",") if n]
    server_pin, client_pin = _cpu_prefixes()
    with tempfile.TemporaryDirectory() as tmp:
        static_dir = os.path.join(tmp, "static")
        os.mkdir(static_dir)
        with open(os.path.join(static_dir, "big.bin"), "wb") as f:
            f.write(os.urandom(STATIC_SIZE))
        lua = os.path.join(tmp, "upload.lua")
        with open(lua, "w") as f:
            f.write(UPLOAD_LUA % {"boundary": BOUNDARY, "size": UPLOAD_SIZE})
        routes = {
            "static": ("/static/big.bin", None, STATIC_SIZE),
            "upload": ("/upload", lua, UPLOAD_SIZE),
        }
        results: dict[tuple[str, str], list[float]] = {}
        for rnd in range(args.rounds):
            order = names[rnd % len(names) :] + names[: rnd % len(names)]
            for name in order:
                server = _Server(name, static_dir, server_pin)
                try:
                    _check(server)
                    for route, (path, script, _) in routes.items():
                        url = f"http://{HOST}:{server.port}{path}"
                        _wrk(client_pin, url, 1, args.connections, script)  # warm-up
                        rps = _wrk(client_pin, url, args.duration, args.connections, script)
                        results.setdefault((name, route), []).append(rps)
                finally:
                    server.stop()
                time.sleep(0.2)

    pinning = "server CPU " + server_pin[2] if server_pin else "not pinned"
    print(
        f"\nweb_bench: {args.rounds} rounds x {args.duration}s, {args.connections} conns, {pinning}"
    )
    print(f"{'route':8} {'app':10} {'req/s':>9} {'MB/s':>8}  vs tornadish")
    for route, (_, _, size) in routes.items():
        ours = statistics.median(results[("tornadish", route)]) if "tornadish" in names else None
        for name in names:
            rps = statistics.median(results[(name, route)])
            ratio = f"{ours / rps:5.2f}x" if ours and name != "tornadish" else ""
            print(f"{route:8} {name:10} {rps:9.1f} {rps * size / 1e6:8.1f}  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
