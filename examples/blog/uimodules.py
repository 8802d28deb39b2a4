"""The blog's UI modules and UI methods (the ``ui_modules`` / ``ui_methods`` settings).

A UI module is a reusable piece of page with its own template, which can also add CSS
and JavaScript to whatever page uses it: ``Entry`` brings the look of a post,
``LanguagePicker`` the script that submits its form when another language is picked.
Each contribution is added once per page, however many times the module is rendered.
"""

from __future__ import annotations

import re
from typing import Any

from tornadish import escape
from tornadish.locale import get_supported_locales
from tornadish.web import RequestHandler, UIModule

# The languages the picker offers, in their own words (translations/ has the others).
LANGUAGES = {"en_US": "English", "de": "Deutsch", "fr": "Français"}


def body_html(handler: RequestHandler, text: str) -> str:
    """A post's text as HTML: blank lines separate paragraphs; everything is escaped
    and bare URLs become links. (A UI method: templates call ``body_html(text)``.)"""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "\n".join("<p>" + escape.linkify(p).replace("\n", "<br>\n") + "</p>" for p in paragraphs)


class Entry(UIModule):
    """One post: ``{% module Entry(post) %}``, or ``Entry(post, full=True)`` on its page."""

    def render(self, post: dict[str, Any], full: bool = False) -> bytes:
        return self.render_string("modules/entry.html", post=post, full=full)

    def embedded_css(self) -> str:
        return (
            ".entry{margin:0 0 2.5em}.entry h2{margin:0 0 .2em}.entry h2 a{color:inherit;"
            "text-decoration:none}.entry .meta{color:#777;font-size:.9em;margin:0 0 1em}"
        )


class LanguagePicker(UIModule):
    """A form that switches the interface language (a cookie, see ``LanguageHandler``)."""

    def render(self) -> bytes:
        supported = set(get_supported_locales())
        choices = [(code, name) for code, name in LANGUAGES.items() if code in supported]
        return self.render_string(
            "modules/language.html", choices=choices, next_url=self.request.uri
        )

    def embedded_javascript(self) -> str:
        # Without JavaScript the form keeps its button; with it, picking is enough.
        return (
            'document.querySelectorAll("form.language").forEach(function (f) {'
            ' f.querySelector("button").hidden = true;'
            ' f.querySelector("select").onchange = function () { f.submit(); }; });'
        )
