"""Seed 004, "ADDING LOCALIZATION", "USING LOCALIZATION" and "LOCALE FILE EXAMPLE:
DE_DE".

Verbatim but for ``tornado`` → ``tornadish``: the ``RequestHandler`` subclass with
``get_user_locale``, ``templates/s004_locale/welcome.html`` and ``locale/s004/de_DE.csv``.
Harness: ``load_translations``, the "fake user object", the handlers. Note that the
slide is Tornado 1.x code: Tornado 6's ``get_supported_locales()`` takes no argument
(the slide passes ``None``) and ``get_user_locale`` must return a ``Locale``, not a
string -- so on Tornado 6 every request through it fails (a 500; the test compares
tornadish with Tornado) and the translations are checked through ``tornado.locale``.
"""

import os  # harness

import tornadish.locale as locale
import tornadish.web

HERE = os.path.dirname(__file__)  # harness
locale.load_translations(os.path.join(HERE, "locale", "s004"))  # harness


class FakeUser:  # harness
    def __init__(self, code):  # harness
        self.code = code  # harness

    def get_locale(self):  # harness
        return self.code  # harness


class RequestHandler(tornadish.web.RequestHandler):

    def get_user_locale(self):

        # Fake user object has a get_locale() function
        user_locale = self.user.get_locale()

        # If our locale is supported return it
        if user_locale in locale.get_supported_locales(None):
            return user_locale

        # Defaults to Accept-Language header if supported
        return None


class WelcomeHandler(RequestHandler):  # harness
    @property  # harness
    def user(self):  # harness
        return FakeUser(self.get_argument("user_locale", None))  # harness

    def get(self):  # harness
        self.render("welcome.html")  # harness


class TranslateHandler(WelcomeHandler):  # harness
    def get(self, word):  # harness
        self.write(self.locale.translate(word))  # harness


app = tornadish.web.Application(  # harness
    [(r"/", WelcomeHandler), (r"/t/(.+)", TranslateHandler)],  # harness
    template_path=os.path.join(HERE, "templates", "s004_locale"),  # harness
)  # harness
