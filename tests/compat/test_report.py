"""How the harness scores tornadish against Tornado (compat/report.py, compat/runner.py).

Sans-IO but for one JUnit file written to a temporary folder, as pytest would write it.
"""

from __future__ import annotations

from compat.report import score, table, total
from compat.runner import ModuleRun, Outcome, read_report

P, F, E, S = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.SKIPPED


def _run(target, outcomes, problem=""):
    return ModuleRun("web_test", target, outcomes=outcomes, problem=problem)


def test_only_tests_that_pass_on_tornado_count():
    tornado = _run("tornado", {"a": P, "b": F, "c": S})
    tornadish = _run("tornadish", {"a": P, "b": P, "c": P})
    row = score(tornado, tornadish)
    assert (row.tornado, row.passed, row.percent) == (1, 1, 100.0)


def test_each_tornadish_outcome_has_its_column():
    tornado = _run("tornado", {"a": P, "b": P, "c": P, "d": P})
    tornadish = _run("tornadish", {"a": P, "b": F, "c": E, "d": S})
    row = score(tornado, tornadish)
    assert (row.passed, row.failed, row.errors, row.skipped) == (1, 1, 1, 1)
    assert row.percent == 25.0


def test_a_test_that_vanished_or_failed_to_collect_counts_as_failed():
    tornado = _run("tornado", {"a": P, "b": P})
    tornadish = _run("tornadish", {}, problem="collection error: ImportError: IOStream")
    row = score(tornado, tornadish)
    assert (row.failed, row.percent) == (2, 0.0)
    assert row.failures[0] == ("a", Outcome.MISSING, "collection error: ImportError: IOStream")
    assert row.notes == ["on tornadish: collection error: ImportError: IOStream"]


def test_the_total_row_adds_the_modules_and_a_module_without_tests_has_no_percent():
    rows = [
        score(_run("tornado", {"a": P, "b": P}), _run("tornadish", {"a": P})),
        score(_run("tornado", {"c": S}), _run("tornadish", {"c": S})),
    ]
    assert (total(rows).tornado, total(rows).passed, total(rows).percent) == (2, 1, 50.0)
    assert rows[1].percent is None
    assert "| **total** | 2 | 1 | 1 | 0 | 0 | 50.0 |" in table(rows)


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tornado_suite.web_test.A" name="test_ok" time="0.1" />
<testcase classname="tornado_suite.web_test.A" name="test_bad" time="0.1">
  <failure message="AssertionError: 404 != 200">traceback</failure></testcase>
<testcase classname="tornado_suite.web_test.A" name="test_teardown" time="0.1">
  <error message="failed on teardown with &quot;assert False&quot;">tb</error></testcase>
<testcase classname="tornado_suite.web_test.A" name="test_bad" time="0.1">
  <error message="failed on teardown with &quot;assert False&quot;">tb</error></testcase>
<testcase classname="tornado_suite.web_test.A" name="test_skip" time="0.0">
  <skipped type="pytest.skip" message="no pycurl">skip</skipped></testcase>
<testcase time="0.000" />
</testsuite></testsuites>
"""

COLLECTION_ERROR = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="" name="tornado_suite.web_test" time="0.0">
  <error message="collection failure">tornado_suite/web_test.py:10: in &lt;module&gt;
    from tornadish.iostream import IOStream
E   ImportError: cannot import name 'IOStream'</error></testcase>
</testsuite></testsuites>
"""


def test_the_junit_report_gives_each_test_its_outcome_and_message(tmp_path):
    report = tmp_path / "r.xml"
    report.write_text(JUNIT)
    run = ModuleRun("web_test", "tornadish")
    read_report(report, run)
    prefix = "tornado_suite.web_test.A::"
    assert run.outcomes == {
        f"{prefix}test_ok": P,
        f"{prefix}test_bad": F,
        f"{prefix}test_teardown": E,
        f"{prefix}test_skip": S,
    }
    # test_bad also errored in tearDown, reported as a second case: the failure stays.
    assert run.messages[f"{prefix}test_bad"] == "AssertionError: 404 != 200"
    assert run.problem == ""  # the empty case an interrupted run leaves is no error


def test_a_collection_error_names_the_exception(tmp_path):
    report = tmp_path / "r.xml"
    report.write_text(COLLECTION_ERROR)
    run = ModuleRun("web_test", "tornadish")
    read_report(report, run)
    assert run.outcomes == {}
    assert run.problem == "collection error: ImportError: cannot import name 'IOStream'"
