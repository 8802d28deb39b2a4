"""Seed 004, "REQUESTHANDLER.RENDER": ``self.render('home.html', username=...)``.

Verbatim but for ``tornado`` → ``tornadish`` (the slide's trailing ``;`` kept); the
template is ``templates/s004_render/home.html``, verbatim. The app is harness.
"""

import os  # harness

from tornadish.web import Application, RequestHandler  # harness: the slide imports nothing


class Home(RequestHandler):

    def get(self):

        self.render('home.html', username='Leeroy Jenkins');


TEMPLATES = os.path.join(os.path.dirname(__file__), "templates", "s004_render")  # harness
app = Application([(r"/", Home)], template_path=TEMPLATES)  # harness
