"""Running ``wrk`` for :mod:`bench.run`: its Lua scripts, finding it, parsing its result."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: wrk's ``done()`` hook: one machine-readable line (latencies in microseconds).
DONE_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT %d %d %d %d %d %d %d %d %.0f %.0f %.0f %.0f %.0f\\n",
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
"""

#: Pipelining as in TechEmpower's plaintext test (their ``pipeline.lua``): each write
#: carries ``depth`` requests (``wrk ... URL -- DEPTH``). wrk counts every response, and
#: times a batch from its write to its last response.
PIPELINE_LUA = """
init = function(args)
  local depth = tonumber(args[1]) or 1
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format()
  end
  req = table.concat(r)
end

request = function()
  return req
end
"""


def write_scripts(directory: Path) -> tuple[Path, Path]:
    """Write the plain and the pipelining script; return their paths."""
    plain = directory / "report.lua"
    plain.write_text(DONE_LUA)
    pipelined = directory / "pipeline.lua"
    pipelined.write_text(PIPELINE_LUA + DONE_LUA)
    return plain, pipelined


@dataclass
class WrkResult:
    duration_s: float
    requests: int
    bytes: int
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "rps": round(self.rps, 1),
            "requests": self.requests,
            "duration_s": round(self.duration_s, 3),
            "bytes": self.bytes,
            "errors": self.errors,
            "latency_ms": {
                "p50": self.p50_ms,
                "p90": self.p90_ms,
                "p99": self.p99_ms,
                "mean": self.mean_ms,
                "max": self.max_ms,
            },
        }


def parse_wrk(stdout: str) -> WrkResult | None:
    for line in stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            f = line.split()[1:]
            us = [float(x) / 1000.0 for x in f[8:13]]
            return WrkResult(
                duration_s=int(f[0]) / 1e6,
                requests=int(f[1]),
                bytes=int(f[2]),
                errors={
                    "connect": int(f[3]),
                    "read": int(f[4]),
                    "write": int(f[5]),
                    "status": int(f[6]),
                    "timeout": int(f[7]),
                },
                p50_ms=us[0],
                p90_ms=us[1],
                p99_ms=us[2],
                mean_ms=us[3],
                max_ms=us[4],
            )
    return None


def ensure_wrk(explicit: str | None) -> str | None:
    if explicit:
        return explicit if shutil.which(explicit) else None
    found = shutil.which("wrk")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found; running as root, so trying `apt-get install -y wrk` ...")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for attempt in (["apt-get", "install", "-y", "wrk"], ["apt-get", "update"]):
            subprocess.run(attempt, env=env, check=False)
            if attempt[1] == "update":
                subprocess.run(["apt-get", "install", "-y", "wrk"], env=env, check=False)
            found = shutil.which("wrk")
            if found:
                return found
    return None


def wrk_version(wrk: str) -> str:
    proc = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    first = (proc.stdout or proc.stderr).strip().splitlines()
    return first[0] if first else "?"


def run_wrk(
    wrk: str,
    taskset: list[str],
    url: str,
    *,
    duration: int,
    connections: int,
    threads: int,
    script: Path,
    script_args: Sequence[str] = (),
) -> tuple[WrkResult | None, str]:
    """One wrk run; ``script_args`` go after ``--`` (the pipeline depth)."""
    cmd = [*taskset, wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s"]
    cmd += ["--timeout", "5s", "-s", str(script), url]
    if script_args:
        cmd += ["--", *script_args]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=duration + 60, check=False
        )
    except subprocess.TimeoutExpired:
        return None, f"wrk did not finish within {duration + 60}s"
    result = parse_wrk(proc.stdout)
    if result is None:
        return None, f"wrk exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}"
    return result, ""
