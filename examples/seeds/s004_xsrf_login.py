"""Seed 004, "TEMPLATE XSRF EXAMPLE": a login form with ``{{ xsrf_form_html() }}``.

The template ``templates/s004_xsrf/login.html`` is verbatim ("No additional work
required"); the handler and the ``xsrf_cookies=True`` app are harness.
"""

import os  # harness

import tornadish.web  # harness


class LoginHandler(tornadish.web.RequestHandler):  # harness
    def get(self):  # harness
        self.render("login.html")  # harness

    def post(self):  # harness
        self.write("welcome " + self.get_argument("username"))  # harness


app = tornadish.web.Application(  # harness
    [(r"/login", LoginHandler)],  # harness
    template_path=os.path.join(os.path.dirname(__file__), "templates", "s004_xsrf"),  # harness
    xsrf_cookies=True,  # harness
)  # harness
