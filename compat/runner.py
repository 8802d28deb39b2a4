"""Run one Tornado test module in its own pytest process and read what happened.

Each module gets a fresh interpreter, so a module that leaks a loop, a thread or a
global setting cannot change another's result, and the modules can run side by side.
Results come from pytest's JUnit XML report, not from its console output. Two timeouts
bound a run: pytest-timeout fails a single test after :data:`TEST_TIMEOUT_S`, and the
whole module is interrupted after its wall-clock limit (SIGINT first, so that pytest
still writes the report for the tests that ran; SIGKILL if that does not end it). A
test that never reported — the module hung, crashed or failed to import — has no
outcome, and the comparison counts it as failed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from compat.rewrite import SUITE_PACKAGE
from compat.suite import Pass

TEST_TIMEOUT_S = 20
_GRACE_S = 15


class Outcome(str, Enum):
    """What one test did; ``MISSING`` is for a test the run never reported."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    MISSING = "missing"


@dataclass
class ModuleRun:
    """One module run in one pass: each reported test's outcome and its first message line.

    Tests are keyed ``class::method`` with the class's dotted path, the same in both
    passes because both import the suite as the same package.
    """

    module: str
    target: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0
    timed_out: bool = False
    #: Why the module reported less than it should: a collection error, a crash.
    problem: str = ""


def run_module(module: str, run: Pass, reports: Path, timeout_s: float) -> ModuleRun:
    """Run ``module`` (e.g. ``"web_test"``) under ``run``'s interpreter and parse the report."""
    reports.mkdir(parents=True, exist_ok=True)
    report = reports / f"{run.target}-{module}.xml"
    report.unlink(missing_ok=True)
    command = [
        str(run.python), "-m", "pytest", f"{SUITE_PACKAGE}/{module}.py",
        "-c", "pytest.ini", "--rootdir", ".", "-q", "--tb=short",
        "-p", "no:cacheprovider", "-p", "no:tornadish",
        f"--timeout={TEST_TIMEOUT_S}", f"--junitxml={report}",
    ]  # fmt: skip
    # NO_NETWORK is left unset: the tests it would skip (netutil's resolvers) only
    # resolve "localhost" and a malformed name, which need no internet.
    env = dict(os.environ, PYTHONPATH=str(run.tree), PYTHONDONTWRITEBYTECODE="1")
    started = time.monotonic()
    result = ModuleRun(module, run.target)
    with subprocess.Popen(
        command,
        cwd=run.tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            result.timed_out = True
            output = _interrupt(process)
    result.wall_s = time.monotonic() - started
    if report.exists():
        read_report(report, result)
    if result.timed_out:
        interrupted = f"module interrupted after {timeout_s:.0f} s"
        result.problem = "; ".join(filter(None, [interrupted, result.problem]))
    elif not result.outcomes and not result.problem:
        tail = output.decode(errors="replace").strip().splitlines()[-3:]
        result.problem = f"no tests reported (exit {process.returncode}): {' | '.join(tail)}"
    return result


def _interrupt(process: subprocess.Popen[bytes]) -> bytes:
    # The process leads its own session (start_new_session), so signalling its group
    # reaches the servers and subprocesses the tests started, and nothing else.
    os.killpg(process.pid, signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return output


def read_report(report: Path, result: ModuleRun) -> None:
    """Fill ``result`` from pytest's JUnit XML ``report``."""
    try:
        root = ElementTree.parse(report).getroot()
    except ElementTree.ParseError as exc:
        result.problem = f"unreadable report: {exc}"
        return
    for case in root.iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        outcome, message = _outcome(case)
        if not classname:
            # A module that failed to import reports one nameless "test" with the error;
            # an interrupted run, one with nothing in it.
            if outcome is not Outcome.PASSED:
                result.problem = f"collection error: {message}"
            continue
        key = f"{classname}::{name}"
        # A test that failed and then also errored in tearDown is reported twice; the
        # first failure says more than its consequence.
        if result.outcomes.get(key, Outcome.PASSED) is not Outcome.PASSED:
            continue
        result.outcomes[key] = outcome
        if message:
            result.messages[key] = message


def _outcome(case: ElementTree.Element) -> tuple[Outcome, str]:
    for tag, outcome in (
        ("failure", Outcome.FAILED),
        ("error", Outcome.ERROR),
        ("skipped", Outcome.SKIPPED),
    ):
        child = case.find(tag)
        if child is not None:
            return outcome, _first_line(child)
    return Outcome.PASSED, ""


def _first_line(element: ElementTree.Element) -> str:
    # pytest puts the exception's own line (or the skip reason) in ``message``; for a
    # collection error that is just "collection failure", and the exception is the
    # traceback's last "E   " line.
    text = (element.get("message") or "").strip()
    if not text or text == "collection failure":
        raised = [line for line in (element.text or "").splitlines() if line.startswith("E ")]
        text = raised[-1][1:].strip() if raised else (element.text or text).strip()
    return text.splitlines()[0][:300] if text else ""
