"""Compare the two passes and present the result: the table, the JSON, the failures.

The denominator of every figure is the set of tests that *pass* when the same harness
runs Tornado's suite against Tornado itself. Each of those tests gets the outcome it had
on tornadish; one tornadish never reported (the module failed to import, hung, or the
test vanished) counts as failed. Tests that fail or skip on Tornado are left out of both
sides, so a percentage reads "of what Tornado 6.6.1 passes here, tornadish passes this".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compat.exclusions import EXCLUDED
from compat.runner import ModuleRun, Outcome
from compat.suite import ACCEPTANCE_SCOPE, TORNADO_VERSION


@dataclass
class ModuleScore:
    """One row of the table: how tornadish did on the tests Tornado passes in a module."""

    module: str
    tornado: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    #: Tests Tornado passes that did not pass on tornadish: (test, outcome, message).
    failures: list[tuple[str, Outcome, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def percent(self) -> float | None:
        """Share of Tornado's passing tests that pass on tornadish; None with no tests."""
        return 100.0 * self.passed / self.tornado if self.tornado else None

    def add(self, other: ModuleScore) -> None:
        """Add ``other``'s counts to this one (for the total row)."""
        self.tornado += other.tornado
        self.passed += other.passed
        self.failed += other.failed
        self.errors += other.errors
        self.skipped += other.skipped


def score(identity: ModuleRun, tornadish: ModuleRun) -> ModuleScore:
    """Score one module from its identity (Tornado) run and its tornadish run."""
    row = ModuleScore(identity.module)
    for test, outcome in identity.outcomes.items():
        if outcome is not Outcome.PASSED:
            continue
        row.tornado += 1
        got = tornadish.outcomes.get(test, Outcome.MISSING)
        if got is Outcome.PASSED:
            row.passed += 1
            continue
        if got is Outcome.ERROR:
            row.errors += 1
        elif got is Outcome.SKIPPED:
            row.skipped += 1
        else:
            row.failed += 1
        message = tornadish.messages.get(test, "") or tornadish.problem or "not reported"
        row.failures.append((test, got, message))
    if identity.problem:
        row.notes.append(f"on Tornado: {identity.problem}")
    if tornadish.problem:
        row.notes.append(f"on tornadish: {tornadish.problem}")
    return row


def total(rows: list[ModuleScore]) -> ModuleScore:
    """The total row over ``rows``."""
    result = ModuleScore("total")
    for row in rows:
        result.add(row)
    return result


def table(rows: list[ModuleScore]) -> str:
    """The Markdown table, one row per module and a total row, exclusions underneath."""
    lines = [
        f"| module | passing on Tornado {TORNADO_VERSION} | passed | failed | errors "
        "| skipped | % |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for row in [*rows, total(rows)]:
        name = row.module.removesuffix("_test")
        if row.module == "total":
            name = "**total**"
        elif row.module not in ACCEPTANCE_SCOPE:
            name += " †"
        percent = "—" if row.percent is None else f"{row.percent:.1f}"
        lines.append(
            f"| {name} | {row.tornado} | {row.passed} | {row.failed} | {row.errors} "
            f"| {row.skipped} | {percent} |"
        )
    lines.append("")
    if any(row.module not in ACCEPTANCE_SCOPE for row in rows):
        lines.append("† measured too, though not in issue 14's acceptance list.")
    lines.append("Excluded (compat/exclusions.py):")
    lines.extend(f"- {module}: {reason}" for module, reason in EXCLUDED.items())
    return "\n".join(lines)


def notes(rows: list[ModuleScore]) -> str:
    """Lines on modules that did not run cleanly (import errors, timeouts, crashes)."""
    return "\n".join(f"- {row.module}: {note}" for row in rows for note in row.notes)


def failures(row: ModuleScore) -> str:
    """Every test of ``row`` that passes on Tornado but not on tornadish, one a line."""
    lines = [f"{row.module}: {len(row.failures)} of {row.tornado} tests not passing"]
    lines.extend(
        f"  {outcome.value:8} {test}\n           {msg}" for test, outcome, msg in row.failures
    )
    return "\n".join(lines)


def as_json(rows: list[ModuleScore], wall_s: float, jobs: int) -> dict[str, Any]:
    """The results as a JSON-ready dict (written to ``build/compat/results.json``)."""

    def counts(row: ModuleScore) -> dict[str, Any]:
        return {
            "module": row.module,
            "in_acceptance_scope": row.module in ACCEPTANCE_SCOPE,
            "tornado_passed": row.tornado,
            "passed": row.passed,
            "failed": row.failed,
            "errors": row.errors,
            "skipped": row.skipped,
            "percent": None if row.percent is None else round(row.percent, 2),
        }

    return {
        "tornado_version": TORNADO_VERSION,
        "wall_s": round(wall_s, 1),
        "jobs": jobs,
        "total": counts(total(rows)),
        "modules": [
            {
                **counts(row),
                "notes": row.notes,
                "failures": [
                    {"test": test, "outcome": outcome.value, "message": message}
                    for test, outcome, message in row.failures
                ],
            }
            for row in rows
        ],
        "excluded": EXCLUDED,
    }
