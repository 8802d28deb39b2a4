"""The rewrite that points Tornado's own test suite at tornadish (compat/rewrite.py).

Each case is a line taken from Tornado 6.6.1's ``tornado/test/``; no files, no network.
"""

from __future__ import annotations

import pytest

from compat.rewrite import SUITE_PACKAGE, rewrite


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("import tornado", "import tornadish"),
        ("import tornado.web", "import tornadish.web"),
        ("from tornado import gen, httpclient, web", "from tornadish import gen, httpclient, web"),
        ("from tornado.web import RequestHandler", "from tornadish.web import RequestHandler"),
        ("import tornado.platform.asyncio", "import tornadish.platform.asyncio"),
    ],
)
def test_module_imports_name_tornadish(line, expected):
    assert rewrite(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "class AsyncTestCase(tornado.testing.AsyncTestCase):",
            "class AsyncTestCase(tornadish.testing.AsyncTestCase):",
        ),
        ("tornado.locale.Locale._cache = {}", "tornadish.locale.Locale._cache = {}"),
        ("for mod in tornado.__all__:", "for mod in tornadish.__all__:"),
        ('    ["tornado"] + _submodules(tornado)', '    ["tornadish"] + _submodules(tornadish)'),
    ],
)
def test_dotted_references_and_the_bare_module_name_follow(line, expected):
    assert rewrite(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('logging.getLogger("tornado.access")', 'logging.getLogger("tornadish.access")'),
        ('logging.getLogger("tornado")', 'logging.getLogger("tornadish")'),
        (
            'mock.patch("tornado.iostream.BaseIOStream._try_inline_read")',
            'mock.patch("tornadish.iostream.BaseIOStream._try_inline_read")',
        ),
        (
            'importlib.import_module(f"tornado.{mod}")',
            'importlib.import_module(f"tornadish.{mod}")',
        ),
        (
            '[sys.executable, "-m", "tornado.autoreload"]',
            '[sys.executable, "-m", "tornadish.autoreload"]',
        ),
        ('if "tornado.web" in sys.modules:', 'if "tornadish.web" in sys.modules:'),
    ],
)
def test_strings_naming_modules_and_loggers_follow(line, expected):
    assert rewrite(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("from tornado.test.util import TestCase", f"from {SUITE_PACKAGE}.util import TestCase"),
        (
            'TestConfigurable.configure("tornado.test.util_test.TestConfig2")',
            f'TestConfigurable.configure("{SUITE_PACKAGE}.util_test.TestConfig2")',
        ),
        (
            '"import tornado.test.resolve_test_helper"',
            f'"import {SUITE_PACKAGE}.resolve_test_helper"',
        ),
        ("from tornado.test import util", f"from {SUITE_PACKAGE} import util"),
    ],
)
def test_the_test_package_is_renamed(line, expected):
    assert rewrite(line) == expected


def test_tornado_testing_is_a_module_not_the_test_package():
    assert (
        rewrite("from tornado.testing import gen_test") == "from tornadish.testing import gen_test"
    )


@pytest.mark.parametrize(
    "line",
    [
        'tornado_test_ctx = contextvars.ContextVar("tornado_test_ctx")',
        "# https://github.com/tornadoweb/tornado/issues/2717",
        'Application([(r"/tornado/test", Handler, {}, "x")])',
        'PathMatches("/tornado.*")',
        'self.assertEqual(options.email.value, "tornado@web.com")',
        '"tornado-quick", parent=settings.get_profile("x")',
        "# third-party HTTP implementation, as in the tornado_http2 package",
    ],
)
def test_words_that_are_not_the_module_are_left_alone(line):
    assert rewrite(line) == line


def test_the_identity_pass_only_renames_the_test_package():
    source = (
        "import tornado.web\n"
        "from tornado.test.util import AsyncHTTPTestCase\n"
        'log = logging.getLogger("tornado.access")\n'
    )
    assert rewrite(source, target="tornado") == (
        "import tornado.web\n"
        f"from {SUITE_PACKAGE}.util import AsyncHTTPTestCase\n"
        'log = logging.getLogger("tornado.access")\n'
    )


def test_the_suite_package_survives_the_word_rule():
    # Rule 2 runs after rule 1: the new package name must not contain the word.
    assert rewrite(SUITE_PACKAGE) == SUITE_PACKAGE
    assert rewrite("tornado.test", target="tornadish") == SUITE_PACKAGE


def test_rewriting_twice_changes_nothing_more():
    once = rewrite("import tornado.web\nfrom tornado.test import util\n")
    assert rewrite(once) == once
