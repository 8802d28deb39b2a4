"""An example program run as a subprocess of the test, served on a known port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


class Running:
    """A started example: wait until it answers, stop it, read what it printed."""

    def __init__(self, proc: subprocess.Popen[str], port: int, host: str = "127.0.0.1") -> None:
        self.proc = proc
        self.base_url = f"http://{host}:{port}"

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                code = self.proc.returncode
                raise AssertionError(f"example exited early ({code}):\n{out}\n{err}")
            try:
                httpx.get(self.base_url + "/", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("example did not start listening in time")

    def stop(self) -> tuple[str, str]:
        """SIGTERM (a kill after 10 s); returns (stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.communicate()


def run_example(args: list[str], port: int, env: dict[str, str] | None = None) -> Running:
    """``python ARGS`` from the repository root, with tornadish importable."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT), **(env or {}))
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Running(proc, port)
