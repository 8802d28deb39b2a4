"""tornadish.template: Tornado's Template/Loader API on Jinja2."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import pytest

from tornadish.template import (
    DictLoader,
    JinjaLoaderAdapter,
    Loader,
    ParseError,
    Template,
    TemplateSyntaxError,
    filter_whitespace,
)


def test_generate_returns_utf8_bytes() -> None:
    assert Template("é {{ x }}").generate(x="ü") == "é ü".encode()


def test_parse_error_is_both_names() -> None:
    assert TemplateSyntaxError is ParseError
    assert issubclass(ParseError, jinja2.TemplateSyntaxError)
    with pytest.raises(ParseError, match=r"at t\.html:1"):
        Template("{% endfor %}{% for %}", name="t.html")


def test_compress_whitespace_and_whitespace_args() -> None:
    src = "a   \n\n  b"
    assert Template(src).generate() == b"a   \n\n  b"
    assert Template(src, name="x.html").generate() == b"a\nb"
    assert Template(src, compress_whitespace=True).generate() == b"a\nb"
    assert Template(src, whitespace="oneline").generate() == b"a b"
    with pytest.raises(ValueError):
        Template(src, whitespace="bogus")


def test_filter_whitespace_modes() -> None:
    assert filter_whitespace("all", " a \n\n b ") == " a \n\n b "
    assert filter_whitespace("single", " a \t\n\n b ") == " a\nb "
    assert filter_whitespace("oneline", " a \n\n b ") == " a b "


def test_loader_reads_files_compiles_once_and_resets(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text("{{ x }}")
    loader = Loader(str(tmp_path))
    t = loader.load("a.html")
    assert loader.load("a.html") is t
    assert t.generate(x=1) == b"1"
    (tmp_path / "a.html").write_text("changed")
    assert loader.load("a.html").generate(x=1) == b"1"
    loader.reset()
    assert loader.load("a.html").generate() == b"changed"


def test_loader_auto_reload(tmp_path: Path) -> None:
    path = tmp_path / "a.html"
    path.write_text("one")
    loader = Loader(str(tmp_path), auto_reload=True)
    assert loader.load("a.html").generate() == b"one"
    path.write_text("two")
    os.utime(path, (1, 1))
    assert loader.load("a.html").generate() == b"two"


def test_loader_relative_include_and_root_confinement(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.html").write_text('{% include "b.html" %}')
    (tmp_path / "sub" / "b.html").write_text("B")
    (tmp_path / "secret.txt").write_text("no")
    loader = Loader(str(tmp_path / "sub"))
    assert loader.load("a.html").generate() == b"B"
    with pytest.raises(jinja2.TemplateNotFound):
        loader.load("../secret.txt")
    with pytest.raises(OSError):
        loader.load("missing.html")


def test_loader_namespace_and_autoescape() -> None:
    loader = DictLoader(
        {"a.html": "{{ greet }} {{ x }}"}, namespace={"greet": "hi"}, autoescape=None
    )
    assert loader.load("a.html").generate(x="<b>") == b"hi <b>"


def test_template_with_loader_can_include() -> None:
    loader = DictLoader({"inc.html": "[{{ v }}]"})
    t = Template('{% include "inc.html" %}', loader=loader)
    assert t.generate(v=1) == b"[1]"


def test_jinja_syntax_loader() -> None:
    loader = DictLoader(
        {"a.html": "{% for i in x %}{{ i }}{% endfor %}{{ '<' }}", "a.txt": "{{ '<' }}"},
        syntax="jinja",
    )
    assert loader.load("a.html").generate(x=[1, 2]) == b"12&lt;"
    assert loader.load("a.txt").generate() == b"<"
    with pytest.raises(ParseError):
        DictLoader({"b.html": "{% for i in x %}{% end %}"}, syntax="jinja").load("b.html")


def test_jinja_loader_adapter() -> None:
    loader = JinjaLoaderAdapter(jinja2.DictLoader({"a.html": "{% if 1 %}ok{% end %}"}))
    assert loader.load("a.html").generate() == b"ok"


def test_invalid_syntax_setting() -> None:
    with pytest.raises(ValueError):
        DictLoader({}, syntax="mako")


# -- hostile input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}",
        "{% if x %}" * 120 + "{% end %}" * 120,
    ],
)
def test_deeply_nested_template_is_a_parse_error(source: str) -> None:
    """Bug: nesting too deep for Jinja2's parser or Python's compiler escaped Template()
    as RecursionError / IndentationError instead of a ParseError."""
    with pytest.raises(jinja2.TemplateSyntaxError):
        Template(source, name="deep.html")
