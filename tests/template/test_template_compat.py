"""Tornado template syntax: same output as tornado.template, and the seed templates."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import tornado.template

from tornadish.template import DictLoader, Loader, ParseError, Template

SEEDS = os.path.join(os.path.dirname(__file__), "templates", "seeds")

# (source, namespace): each renders to the same bytes as tornado.template.
SAME_AS_TORNADO: list[tuple[str, dict[str, Any]]] = [
    ("<b>{{ name }}</b>", {"name": '<Bob\'s & "co">'}),
    ("{% for i in range(3) %}{{ i }},{% end %}", {}),
    ("{% for a, b in items %}{{ a }}={{ b }};{% end %}", {"items": [(1, 2), (3, 4)]}),
    ("{% for x in [p * 2 for p in xs if p > 1] %}{{ x }}{% end %}", {"xs": [1, 2, 3]}),
    ("{{ {k: v for k, v in d.items()} }}", {"d": {"a": 1}}),
    ("{{ sorted(xs, key=lambda x: -x) }}", {"xs": [1, 3, 2]}),
    ("{% if x is None %}none{% elif x > 1 %}big{% else %}small{% end %}", {"x": None}),
    ("{% if x is None %}none{% elif x > 1 %}big{% else %}small{% end %}", {"x": 5}),
    ("{% set y = x * 2 %}{{ y }}", {"x": 3}),
    ("{% set a, b = 1, 2 %}{{ a + b }}", {}),
    (
        "{% set total = 0 %}{% for x in xs %}{% set total += x %}{% end %}{{ total }}",
        {"xs": [1, 2, 3]},
    ),
    ("{% set i = 0 %}{% while i < 3 %}{{ i }}{% set i += 1 %}{% end %}", {}),
    ("{% for i in range(5) %}{% if i == 3 %}{% break %}{% end %}{{ i }}{% end %}", {}),
    ("{% for i in range(4) %}{% if i % 2 %}{% continue %}{% end %}{{ i }}{% end %}", {}),
    ("{% for x in [] %}{% else %}after{% end %}", {}),
    ("{% set d = {} %}{% set d['k'] = 1 %}{{ d['k'] }}", {}),
    ("{% raw '<i>' %}{{ '<i>' }}", {}),
    ("{% autoescape None %}{{ '<i>' }}", {}),
    ("{{ '<i>' }}{% autoescape None %}", {}),
    ("{% autoescape xhtml_escape %}{{ '<i>' }}", {}),
    ("{% apply linkify %}see http://x.org/{% end %}", {}),
    ("{% try %}{{ 1 / 0 }}{% except ZeroDivisionError %}div{% end %}", {}),
    ("{% try %}ok{% except %}bad{% else %}+else{% finally %}+fin{% end %}", {}),
    ("{% try %}{{ int('x') }}{% except ValueError as e %}{{ type(e).__name__ }}{% end %}", {}),
    ("a{{! b }}c{%! d %}e{#! f", {}),
    ("{# comment #}x{% comment anything here %}y", {}),
    ("{{ len('abc') }} {{ 'x' if 1 else 'y' }} {{ [1, 2][-1] }} {{ 7 // 2 }}", {}),
    ("{{ f'{x}!' }} {{ r'\\d' }}", {"x": 1}),
    ("{{ b'bytes' }}", {}),
    ("{% import os.path %}{{ os.path.join('a', 'b') }}", {}),
    ("{% from os.path import join as j %}{{ j('a', 'b') }}", {}),
    ("{{ xhtml_escape('<') }}{{ url_escape('a b') }}{{ json_encode([1]) }}", {}),
    ("{{ squeeze('a   b') }} {{ datetime.date(2020, 1, 2) }}", {}),
    (
        "{% module Template('x') %}",
        {"_tt_modules": SimpleNamespace(Template=lambda n: "<" + n + ">")},
    ),
    ("line1\n\n   line2   \n", {}),
    ("{% whitespace oneline %}a\n\n  b {% whitespace all %}c\n\n  d", {}),
    ("<pre>\n  keep   \n</pre>", {}),
    (
        "{{ obj.method(1) }} {{ obj.attr }}",
        {"obj": SimpleNamespace(method=lambda v: v + 1, attr="a")},
    ),
]


@pytest.mark.parametrize("name", ["<string>", "page.html"])
@pytest.mark.parametrize(("source", "namespace"), SAME_AS_TORNADO)
def test_output_matches_tornado(source: str, namespace: dict[str, Any], name: str) -> None:
    expected = tornado.template.Template(source, name=name).generate(**namespace)
    assert Template(source, name=name).generate(**namespace) == expected


LOADER_TEMPLATES = {
    "base.html": "<html>\n<title>{% block title %}Default{% end %}</title>\n"
    "<body>{% block body %}{% end %}</body></html>\n",
    "page.html": '{% extends "base.html" %}\n{% block title %}T {{ x }}{% end %}\n'
    '{% block body %}{% for i in range(2) %}{% include "inc.html" %}{% end %}{% end %}\n',
    "inc.html": "<p>{{ i }}</p>\n",
    "sub/a.html": '{% include "b.html" %}',
    "sub/b.html": "B!",
    "plain.txt": "{{ x }}\n\n  y",
}


@pytest.mark.parametrize("name", ["page.html", "sub/a.html", "plain.txt"])
def test_loader_output_matches_tornado(name: str) -> None:
    expected = tornado.template.DictLoader(LOADER_TEMPLATES).load(name).generate(x="<x>")
    assert DictLoader(LOADER_TEMPLATES).load(name).generate(x="<x>") == expected


def test_loader_autoescape_none_matches_tornado() -> None:
    expected = tornado.template.DictLoader(LOADER_TEMPLATES, autoescape=None).load("page.html")
    ours = DictLoader(LOADER_TEMPLATES, autoescape=None).load("page.html")
    assert ours.generate(x="<x>") == expected.generate(x="<x>")


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("a\nb\n{% if x %}\n{{ x }}\n", 3, "Missing {% end %}"),
        ("a\n\n{{ 1 +* 2 }}\n", 3, ""),
        ("a\n{% end %}", 2, "Extra {% end %}"),
        ("a\n{# x\ny #}\n{{ }}", 4, "Empty expression"),
        ("{% for i in x %}\n{% elif y %}{% end %}", 2, "elif outside"),
        ("\n\n{% bogus x %}", 3, "Unknown operator"),
        ("\n{% set a = b = 1 %}", 2, "set"),
        ("\n{% from . import x %}", 2, "Unsupported import"),
        ("\n{% for x in y %}{% break %}{% else %}{% end %}{% end %}", 2, "break"),
        ("\n{{ x", 2, "Missing end expression"),
        ("{% whitespace\nnone %}", 1, "whitespace mode"),
    ],
)
def test_syntax_errors_name_file_and_line(source: str, line: int, message: str) -> None:
    with pytest.raises(ParseError) as info:
        Template(source, name="bad.html")
    assert info.value.lineno == line
    assert message in info.value.message  # type: ignore[operator]
    assert f"bad.html:{line}" in str(info.value)


def test_runtime_error_traceback_points_at_template_line() -> None:
    loader = DictLoader({"rt.html": "line1\n{% for a in [1,\n2] %}\n{{ a / 0 }}\n{% end %}"})
    with pytest.raises(ZeroDivisionError) as info:
        loader.load("rt.html").generate()
    frames = traceback.extract_tb(info.value.__traceback__)
    assert (frames[-1].filename, frames[-1].lineno) == ("rt.html", 4)


def test_undefined_name_raises() -> None:
    with pytest.raises(Exception, match="missing"):
        Template("{{ missing }}").generate()


def test_jinja_syntax_still_works_in_tornado_mode() -> None:
    t = Template(
        "{{ x|upper }}{% if y is defined %}d{% endif %}{% for i in range(2) %}{{ loop.index }}"
        "{% endfor %}{% macro m(a) %}<{{ a }}>{% end %}{{ m(1) }}{{ 'a' ~ 'b' }}"
    )
    assert t.generate(x="q", y=1) == b"Qd12&lt;1&gt;ab" or t.generate(x="q", y=1) == b"Qd12<1>ab"


# -- the seeds (/work/shared/seeds) --------------------------------------------------


@pytest.fixture
def seeds_loader(monkeypatch: pytest.MonkeyPatch) -> Iterator[Loader]:
    monkeypatch.syspath_prepend(SEEDS)  # ``{% import methods %}`` finds methods.py
    yield Loader(SEEDS)
    sys.modules.pop("methods", None)


def test_seed_home_loop(seeds_loader: Loader) -> None:
    out = seeds_loader.load("home.html").generate(entries=[1, 2], item="entry")
    assert out.count(b"<li>entry</li>") == 2


def test_seed_students_comprehension(seeds_loader: Loader) -> None:
    people = [
        SimpleNamespace(name="<Ann>", student=True, age=30),
        SimpleNamespace(name="Bob", student=True, age=20),
        SimpleNamespace(name="Cy", student=False, age=40),
    ]
    out = seeds_loader.load("students.html").generate(people=people)
    # escape() then autoescape: escaped twice, as in Tornado.
    assert b"<li>&amp;lt;Ann&amp;gt;</li>" in out
    expected = tornado.template.Loader(SEEDS).load("students.html").generate(people=people)
    assert out == expected
    assert b"Bob" not in out and b"Cy" not in out


def test_seed_use_methods_import(seeds_loader: Loader) -> None:
    out = seeds_loader.load("methods.html").generate(a=2, b=3)
    assert b"<h1>La somme de 2 et 3</h1>" in out
    assert b"<p>5</p>" in out


def test_seed_use_methods_matches_tornado(seeds_loader: Loader) -> None:
    expected = tornado.template.Loader(SEEDS).load("methods.html").generate(a=2, b=3)
    assert seeds_loader.load("methods.html").generate(a=2, b=3) == expected


def test_seed_hello(seeds_loader: Loader) -> None:
    out = seeds_loader.load("hello.html").generate(username="Leeroy Jenkins")
    assert b"Hi Leeroy Jenkins, welcome to our site." in out


def test_seed_welcome_translated(seeds_loader: Loader) -> None:
    out = seeds_loader.load("welcome.html").generate(_=lambda s: s.upper())
    assert b"WELCOME TO OUR SITE." in out
