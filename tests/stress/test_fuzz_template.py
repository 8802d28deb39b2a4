"""Fuzzing the Tornado-template-syntax translation (hypothesis).

Templates are author input, not client input, but a broken one must fail the way
Tornado's does — a :class:`~tornadish.template.ParseError` (a
``jinja2.TemplateSyntaxError``) naming the file and line — never an ``IndexError`` or a
``RecursionError`` from the translator's insides. Sources are built from the pieces
that matter to the translator (tag openers and closers, every directive, Python and
Jinja2 expressions, quotes, newlines) so most examples reach deep into it.
"""

from __future__ import annotations

import jinja2
import pytest
from hypothesis import strategies as st

from tornadish._template.tornado_syntax import translate
from tornadish.template import Template

from .test_fuzz_http import SIZES, run

PIECES = [
    "{{", "}}", "{%", "%}", "{#", "#}", "{{!", "{%!", "{{ ", " }}", "{% ", " %}",
    "if x", "elif y", "else", "end", "for i in x", "for (a, b) in c", "while x", "try",
    "except", "except Exception as e", "finally", "block b", "extends 'base.html'",
    "include 'x.html'", "module Template('x.html')", "set y = 1", "set y = [1, 2]",
    "apply upper", "autoescape None", "autoescape xhtml_escape", "raw x", "comment c",
    "whitespace oneline", "whitespace all", "whitespace bogus", "import os",
    "from os import path", "break", "continue", "return", "def f()",
    "x", "x.y", "x[0]", "x(1, k=2)", "1 +", "'a'", '"b"', "'''", "[i for i in x]",
    "lambda: 1", "f'{x}'", "x if y else z", "x is None", "not x", "x|upper", "a ~ b",
    "x is defined", "}}}", "{{{", "%}}", "{%%}", "((((", "))))", "\\", "\n", "\r\n", "\t",
    " ", "text", "<b>", "&amp;", "é", "\x00", "#", ";", ":", "=", "==", "*", "**",
]  # fmt: skip
source_st = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=40).map(
    "".join
)


@pytest.mark.parametrize("examples", SIZES)
def test_translate_gives_source_or_a_parse_error(examples: int) -> None:
    @run(examples, source_st, st.sampled_from(["all", "single", "oneline"]))
    def prop(source: str, whitespace: str) -> None:
        try:
            out = translate(source, "fuzz.html", whitespace=whitespace)
        except jinja2.TemplateSyntaxError as e:
            assert "fuzz.html" in str(e)
            return
        assert isinstance(out, str)


@pytest.mark.parametrize("examples", SIZES)
def test_template_compiles_or_raises_a_parse_error(examples: int) -> None:
    @run(examples, source_st)
    def prop(source: str) -> None:
        try:
            Template(source, name="fuzz.html")
        except jinja2.TemplateSyntaxError:
            pass


def test_deeply_nested_expressions_are_a_parse_error_or_compile() -> None:
    """Nesting deep enough to exhaust Python's parser is still a syntax error."""
    for depth in (50, 200, 1000, 5000):
        source = "{{ " + "(" * depth + "1" + ")" * depth + " }}"
        try:
            Template(source, name="deep.html")
        except jinja2.TemplateSyntaxError:
            pass
        source = "{% if x %}" * depth + "{% end %}" * depth
        try:
            Template(source, name="deep.html")
        except jinja2.TemplateSyntaxError:
            pass
