"""Seed 004, "BASE TEMPLATE" and "CONTENT TEMPLATE" (and "TEMPLATE EXAMPLE AGAIN"):
template inheritance with ``static_url``, ``include``, a UI module, ``_()`` and an
error page.

The templates ``templates/s004_site/base.html`` and ``error.html`` are verbatim. Harness:
``header.html``, the ``MemberBar`` UI module, the static files, a page that extends the
base, the ``current_user`` cookie, and ``write_error`` rendering ``error.html``.
"""

import datetime  # harness: the base template uses ``datetime``
import os  # harness

import tornadish.web  # harness

HERE = os.path.dirname(__file__)  # harness


class MemberBar(tornadish.web.UIModule):  # harness
    def render(self):  # harness
        return '<div class="member-bar">%s</div>' % self.current_user  # harness


class BaseHandler(tornadish.web.RequestHandler):  # harness
    def get_current_user(self):  # harness
        return self.get_cookie("user")  # harness

    def get_template_namespace(self):  # harness
        namespace = super().get_template_namespace()  # harness
        namespace["datetime"] = datetime  # harness
        return namespace  # harness

    def write_error(self, status_code, **kwargs):  # harness
        exception = kwargs["exc_info"][1] if "exc_info" in kwargs else ""  # harness
        self.render("error.html", status_code=status_code, exception=exception)  # harness


class PageHandler(BaseHandler):  # harness
    def get(self, name):  # harness
        if name == "missing":  # harness
            raise tornadish.web.HTTPError(404)  # harness
        self.render("page.html", name=name)  # harness


app = tornadish.web.Application(  # harness
    [(r"/(\w*)", PageHandler)],  # harness
    template_path=os.path.join(HERE, "templates", "s004_site"),  # harness
    static_path=os.path.join(HERE, "static", "s004_site"),  # harness
    ui_modules={"MemberBar": MemberBar},  # harness
    version="1.0",  # harness
)  # harness
