"""What a template error tells its reader: a missing template names itself and the
places searched, with a traceback that ends in the user's code, not in Jinja2's
loading machinery; a Tornado-syntax error speaks Tornado's tags."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import httpx
import jinja2
import pytest

from tornadish._template.tornado_syntax import tornado_terms
from tornadish.template import (
    DictLoader,
    JinjaLoaderAdapter,
    Loader,
    ParseError,
    Template,
    TemplateNotFound,
)
from tornadish.web import Application, RequestHandler


def _frames(e: BaseException) -> list[traceback.FrameSummary]:
    return list(traceback.extract_tb(e.__traceback__))


def test_missing_template_names_itself_and_the_directory_searched(tmp_path: Path) -> None:
    loader = Loader(str(tmp_path))
    with pytest.raises(TemplateNotFound) as info:
        loader.load("nope.html")
    e = info.value
    assert str(e) == f"template 'nope.html' not found; looked in: {tmp_path}"
    assert e.name == "nope.html" and e.searched == str(tmp_path)
    # Code written for Jinja2 or for Tornado (FileNotFoundError) still catches it.
    assert isinstance(e, jinja2.TemplateNotFound) and isinstance(e, FileNotFoundError)
    # The traceback ends where the user's call entered the loader: no Jinja2 frame.
    frames = _frames(e)
    assert not [f for f in frames if "jinja2" in f.filename], frames
    assert frames[-1].name == "load"


def test_a_name_outside_the_root_is_not_found_there(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(TemplateNotFound, match=r"'\.\./secret\.txt' not found; looked in: .*sub"):
        Loader(str(tmp_path / "sub")).load("../secret.txt")


def test_missing_include_points_at_the_including_line(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<h1>Page</h1>\n<p>{% include 'parts/nav.html' %}</p>\n")
    template = Loader(str(tmp_path)).load("page.html")
    with pytest.raises(TemplateNotFound) as info:
        template.generate()
    assert str(info.value) == f"template 'parts/nav.html' not found; looked in: {tmp_path}"
    # Jinja2 puts the template's own line in the traceback.
    frames = _frames(info.value)
    assert any(
        f.filename == str(tmp_path / "page.html") and f.lineno == 2 for f in frames
    ), frames


def test_dict_loader_names_the_templates_it_holds() -> None:
    loader = DictLoader({"base.html": "", "index.html": '{% extends "layout.html" %}'})
    with pytest.raises(TemplateNotFound) as info:
        loader.load("nope.html")
    assert str(info.value) == (
        "template 'nope.html' not found; looked in: the DictLoader's templates "
        "base.html, index.html"
    )
    with pytest.raises(TemplateNotFound, match=r"'layout\.html' not found"):
        loader.load("index.html").generate()


def test_jinja_loader_adapter_names_the_jinja_loaders_directories(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    adapter = JinjaLoaderAdapter(jinja2.FileSystemLoader([str(tmp_path), str(other)]))
    with pytest.raises(TemplateNotFound) as info:
        adapter.load("nope.html")
    assert str(info.value).endswith(f"looked in: {tmp_path}, {other}")


class Missing(RequestHandler):
    def get(self) -> None:
        self.render("nope.html")


async def test_handler_log_names_the_template_path(serve, tmp_path: Path, caplog) -> None:
    srv = await serve(Application([(r"/", Missing)], template_path=str(tmp_path)))
    with caplog.at_level(logging.ERROR, logger="tornadish.application"):
        async with httpx.AsyncClient() as client:
            r = await client.get(srv.base_url + "/")
    assert r.status_code == 500
    [record] = [r for r in caplog.records if r.exc_info]
    assert record.exc_info is not None
    error = record.exc_info[1]
    assert isinstance(error, TemplateNotFound)
    assert str(error) == f"template 'nope.html' not found; looked in: {tmp_path}"
    logged = "".join(traceback.format_exception(*record.exc_info))
    assert "jinja2" not in logged, logged


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% if x %}a{% else %}b{% else %}c{% end %}", "a second {% else %} in an if block"),
        (
            "{% if x %}a{% else %}b{% elif y %}c{% end %}",
            "{% elif %} after {% else %} in an if block",
        ),
        ("{% for i in x %}a{% else %}b{% else %}c{% end %}", "a second {% else %} in a for block"),
        ("{{ x + }}", "unexpected '}}'"),
        ("{% if x + %}{% end %}", "unexpected '%}'"),
    ],
)
def test_tornado_syntax_errors_speak_tornado_tags(source: str, message: str) -> None:
    with pytest.raises(ParseError) as info:
        Template("\n" + source, name="page.html")
    text = str(info.value)
    assert text == f"{message} at page.html:2"
    for jinja_word in ("endif", "endfor", "Jinja", "end of print statement", "end of statement"):
        assert jinja_word not in text


@pytest.mark.parametrize(
    "jinja_source",
    [
        "{% if x %}a{% else %}b{% else %}c{% endif %}",
        "{% for x in y %}{% if z %}",
        "{% block b %}{% endfor %}",
        "{{ a b }}",
        "{% if x + %}{% endif %}",
    ],
)
def test_jinja_parser_messages_are_reworded_in_tornado_tags(jinja_source: str) -> None:
    # What the translation leaves to Jinja2's parser comes back in Jinja2's words: the
    # wording is applied to the messages this Jinja2 really produces.
    with pytest.raises(jinja2.TemplateSyntaxError) as info:
        jinja2.Environment().parse(jinja_source)
    jinja_message = str(info.value.message)
    text = tornado_terms(jinja_message)
    assert text != jinja_message
    for jinja_word in ("endif", "endfor", "endblock", "Jinja", "end of print", "end of statement"):
        assert jinja_word not in text, text


def test_jinja_syntax_templates_keep_jinja_words() -> None:
    loader = DictLoader({"j.html": "{% if x %}a{% else %}b{% else %}c{% endif %}"}, syntax="jinja")
    with pytest.raises(ParseError, match="endif"):
        loader.load("j.html")
