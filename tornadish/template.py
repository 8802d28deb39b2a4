"""Tornado's ``tornado.template`` API, backed by Jinja2.

Templates use Tornado's syntax by default (``{% end %}``, ``{% raw x %}``,
``{% import m %}``, Python expressions ...; see :mod:`tornadish._template.tornado_syntax` for the
supported subset) on top of Jinja2's, are compiled by Jinja2 and rendered to bytes.

>>> Template("<b>{{ name }}</b>").generate(name="<Bob>")
b'<b>&lt;Bob&gt;</b>'
>>> loader = DictLoader({"base.html": "<title>{% block t %}{% end %}</title>",
...                      "page.html": '{% extends "base.html" %}{% block t %}Hi{% end %}'})
>>> loader.load("page.html").generate()
b'<title>Hi</title>'

Each loader owns one :class:`jinja2.Environment` (``loader.environment``), so compiled
templates are cached there; ``syntax="jinja"`` makes a loader take plain Jinja2 source.
"""

from __future__ import annotations

from tornadish._template.loader import (
    BaseLoader,
    DictLoader,
    JinjaLoaderAdapter,
    Loader,
    ParseError,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    filter_whitespace,
)

__all__ = [
    "BaseLoader",
    "DictLoader",
    "JinjaLoaderAdapter",
    "Loader",
    "ParseError",
    "Template",
    "TemplateNotFound",
    "TemplateSyntaxError",
    "filter_whitespace",
]
