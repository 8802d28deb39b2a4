"""Seed 000, "SOME SECURITY ISSUES": cookie secret, login URL and an XSRF form.

Verbatim but for ``tornado`` → ``tornadish``; the form is
``templates/s000_security/new_message.html``. Note the slide's typo ``"xsrif_cookies"``:
the setting is not ``xsrf_cookies``, so XSRF checking is *not* turned on (as on
Tornado). ``MainHandler`` and ``LoginHandler`` (which the slide leaves out) are harness.
"""

import os  # harness

import tornadish.web


class MainHandler(tornadish.web.RequestHandler):  # harness
    def get(self):  # harness
        self.render("new_message.html")  # harness

    def post(self):  # harness
        self.write("posted " + self.get_argument("message"))  # harness


class LoginHandler(tornadish.web.RequestHandler):  # harness
    def get(self):  # harness
        self.write("login")  # harness


settings = {
    "cookie_secret": "__TODO:_GENERATE_YOUR_OWN_RANDOM_VALUE_HERE__",
    "login_url": "/login",
    "xsrif_cookies": True,
}
settings["template_path"] = os.path.join(  # harness
    os.path.dirname(__file__), "templates", "s000_security")  # harness
application = tornadish.web.Application([
    (r"/", MainHandler),
    (r"/login", LoginHandler),
], **settings)
