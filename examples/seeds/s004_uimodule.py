"""Seed 004, "UIMODULE EXAMPLE": the ``HTTPSCheck`` UI module and its template.

Verbatim but for ``tornado`` → ``tornadish``; the slide's flattened line break after
``or`` is a backslash continuation again. ``modules/ssl.html`` and the embedding
``<div>{{ modules.HTTPSCheck() }}</div>`` (``page.html``) are verbatim; the app is harness.
"""

import os  # harness

import tornadish.web


class HTTPSCheck(tornadish.web.UIModule):

    def render(self):

        if 'X-Forwarded-Ssl' not in self.request.headers or \
            self.request.headers['X-Forwarded-Ssl'] != 'on':

            return self.render_string("modules/ssl.html")

        return ''


class PageHandler(tornadish.web.RequestHandler):  # harness
    def get(self):  # harness
        self.render("page.html")  # harness


app = tornadish.web.Application(  # harness
    [(r"/", PageHandler)],  # harness
    template_path=os.path.join(os.path.dirname(__file__), "templates", "s004_uimodule"),  # harness
    ui_modules={"HTTPSCheck": HTTPSCheck},  # harness
)  # harness
