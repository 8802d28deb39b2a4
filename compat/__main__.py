"""``python -m compat``: run Tornado's test suite against Tornado and tornadish, compare.

Options select modules (``--module web``), list each failing test (``--show-failures``),
set the ratchet (``--min 60``) and the parallelism (``--jobs``). See :mod:`compat`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from compat import report, suite
from compat.exclusions import EXCLUDED
from compat.runner import ModuleRun, run_module


def main(argv: list[str] | None = None) -> int:
    """Run the harness; return the process exit status."""
    args = _parser().parse_args(argv)
    started = time.monotonic()
    build = suite.project_root() / "build" / "compat"
    tests = suite.unpack_tests(suite.fetch_sdist(build), build)
    available = suite.test_modules(tests)
    modules = _select(args.module, available)
    passes = [
        suite.Pass("tornado", suite.tornado_python(build), build / "trees" / "tornado"),
        suite.Pass("tornadish", Path(sys.executable), build / "trees" / "tornadish"),
    ]
    for run in passes:
        suite.build_tree(tests, run.tree, run.target)

    runs: dict[tuple[str, str], ModuleRun] = {}
    jobs = [(run, module) for module in modules for run in passes]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(run_module, module, run, build / "reports", args.module_timeout)
            for run, module in jobs
        ]
        for done, future in enumerate(as_completed(futures), 1):
            result = future.result()
            runs[result.target, result.module] = result
            counts = _summary(result)
            print(f"[{done}/{len(jobs)}] {result.target:9} {result.module}: {counts}", flush=True)

    rows = [report.score(runs["tornado", m], runs["tornadish", m]) for m in modules]
    wall_s = time.monotonic() - started
    print()
    print(report.table(rows))
    if notes := report.notes(rows):
        print("\nModules that did not run cleanly:\n" + notes)
    if args.show_failures:
        for row in rows:
            print("\n" + report.failures(row))
    json_path = args.json or (build / "results.json" if not args.module else None)
    if json_path:
        json_path.write_text(json.dumps(report.as_json(rows, wall_s, args.jobs), indent=1))
        print(f"\nresults: {json_path}")
    overall = report.total(rows).percent or 0.0
    print(f"compat: {overall:.1f} % of the tests that pass on Tornado pass on tornadish "
          f"({wall_s:.0f} s, {args.jobs} jobs)")  # fmt: skip
    if args.min is not None and overall < args.min:
        print(f"compat: {overall:.1f} % is below the ratchet COMPAT_MIN={args.min}")
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m compat", description=__doc__)
    parser.add_argument(
        "--module",
        action="append",
        metavar="NAME",
        help="run only this test module (web or web_test; repeatable)",
    )
    parser.add_argument(
        "--show-failures", action="store_true", help="list each test that fails on tornadish"
    )
    parser.add_argument(
        "--min", type=float, metavar="PERCENT", help="exit 1 if the total is below this"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=int(os.environ.get("COMPAT_JOBS", "4")),
        help="pytest processes at once (default: $COMPAT_JOBS or 4)",
    )
    parser.add_argument(
        "--module-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="wall-clock limit per module and pass (default 120)",
    )
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    return parser


def _select(wanted: list[str] | None, available: list[str]) -> list[str]:
    if not wanted:
        return available
    chosen = []
    for name in wanted:
        module = name if name.endswith("_test") else f"{name}_test"
        if module in EXCLUDED:
            raise SystemExit(f"compat: {module} is excluded: {EXCLUDED[module]}")
        if module not in available:
            raise SystemExit(f"compat: no test module {module} (have: {', '.join(available)})")
        chosen.append(module)
    return chosen


def _summary(result: ModuleRun) -> str:
    counts: dict[str, int] = {}
    for outcome in result.outcomes.values():
        counts[outcome.value] = counts.get(outcome.value, 0) + 1
    text = ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "nothing reported"
    if result.problem:
        text += f" [{result.problem[:120]}]"
    return f"{text} ({result.wall_s:.1f} s)"


if __name__ == "__main__":
    sys.exit(main())
