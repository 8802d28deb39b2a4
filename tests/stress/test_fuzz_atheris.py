"""The coverage-guided fuzzer (``fuzz_atheris.py``) for a fixed number of inputs.

A few thousand inputs in ``make test``; many more under the ``stress`` marker, with
the coverage reached and the speed recorded for the report. Without atheris the
script's random-mutation fallback runs instead (and says so).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HAVE_ATHERIS = importlib.util.find_spec("atheris") is not None


def fuzz(runs: int, artifacts: Path, timeout: float) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.stress.fuzz_atheris", "--runs", str(runs),
         "--artifacts", str(artifacts)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert list(artifacts.iterdir()) == [], "crashing inputs were written"
    return out


@pytest.mark.timeout(120)
def test_request_parsing_survives_coverage_guided_fuzzing(tmp_path: Path) -> None:
    out = fuzz(3000, tmp_path, timeout=100)
    if HAVE_ATHERIS:
        assert re.search(r"Done 3000 runs", out), out[-2000:]
    else:
        assert "fallback fuzzer: 3000 inputs" in out


@pytest.mark.stress
@pytest.mark.timeout(600)
def test_request_parsing_long_fuzz(tmp_path: Path, figures: Any) -> None:
    runs = 50_000
    out = fuzz(runs, tmp_path, timeout=540)
    if HAVE_ATHERIS:
        done = re.findall(r"#\d+\s+DONE\s+cov: (\d+) ft: (\d+)", out)
        speed = re.search(r"average_exec_per_sec:\s+(\d+)", out)
        cov, features = done[-1] if done else ("?", "?")
        line = (
            f"atheris: {runs} inputs through the request-parsing path, no crash; "
            f"coverage {cov} edges, {features} features, "
            f"{speed.group(1) if speed else '?'} inputs/s"
        )
        data = {"runs": runs, "edges": cov, "features": features}
    else:
        line = f"random-mutation fallback (no atheris): {runs} inputs, no crash"
        data = {"runs": runs, "fallback": True}
    figures.add("fuzzing", "atheris", data, [line])
