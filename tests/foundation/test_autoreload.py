"""``python -m tornadish.autoreload``: the wrapper runs a script or module, restarts it
with the same command line (the wrapper included), and stops on success if asked."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# First run: print, then restart through autoreload; second run: exit at once.
RUN_TWICE = """
import os, sys
import tornadish.autoreload
sys.stdout.flush()
if "TESTAPP_STARTED" not in os.environ:
    os.environ["TESTAPP_STARTED"] = "1"
    tornadish.autoreload._reload()
else:
    os._exit(0)
"""


def run(tmp_path: Path, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TORNADISH_RELOAD_POLL="1")
    env.pop("TESTAPP_STARTED", None)
    done = subprocess.run(
        [sys.executable, "-m", "tornadish.autoreload", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_wrapper_runs_a_script_with_its_arguments_and_survives_the_restart(
    tmp_path: Path,
) -> None:
    write(tmp_path / "run_twice.py", RUN_TWICE)
    write(
        tmp_path / "main.py",
        """
        import os, sys
        print(os.path.basename(sys.argv[0]), sys.argv[1:],
              "tornadish.autoreload" in sys.modules)
        exec(open("run_twice.py").read())
        """,
    )
    out = run(tmp_path, "main.py", "a", "--b", "-m", "c")
    assert out == "main.py ['a', '--b', '-m', 'c'] True\n" * 2


def test_wrapper_runs_a_module_as_python_m_does(tmp_path: Path) -> None:
    write(tmp_path / "run_twice.py", RUN_TWICE)
    write(tmp_path / "app" / "__init__.py", "")
    write(
        tmp_path / "app" / "__main__.py",
        """
        import sys
        print(__name__, __spec__.name, sys.argv[1:])
        exec(open("run_twice.py").read())
        """,
    )
    assert run(tmp_path, "-m", "app", "x") == "__main__ app.__main__ ['x']\n" * 2


def test_until_success_stops_after_a_clean_exit(tmp_path: Path) -> None:
    write(tmp_path / "run_twice.py", RUN_TWICE)
    write(
        tmp_path / "main.py",
        """
        import os, sys
        if "TESTAPP_STARTED" in os.environ:
            print("done")
            sys.exit(0)
        print("again")
        exec(open("run_twice.py").read())
        """,
    )
    assert run(tmp_path, "--until-success", "main.py") == "again\ndone\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [((), "Either -m or a path"), (("-m",), "-m needs a module"), (("--bad",), "unknown option")],
)
def test_wrapper_usage_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tornadish.autoreload", *args],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert message in done.stderr and "usage:" in done.stderr
