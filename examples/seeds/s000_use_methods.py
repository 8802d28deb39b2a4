"""Seed 000, "TEMPLATES POSSIBILITIES", "Use Methods": ``{% import methods%}``.

The function is ``methods.py`` and the template ``templates/s000_methods/somme.html``,
both verbatim; the handler rendering it with ``a`` and ``b`` is harness.
"""

import os  # harness
import sys  # harness

import tornadish.web  # harness

HERE = os.path.dirname(os.path.abspath(__file__))  # harness
if HERE not in sys.path:  # harness
    sys.path.append(HERE)  # harness: where ``{% import methods%}`` finds methods.py


class SommeHandler(tornadish.web.RequestHandler):  # harness
    def get(self):  # harness
        a = int(self.get_argument("a"))  # harness
        b = int(self.get_argument("b"))  # harness
        self.render("somme.html", a=a, b=b)  # harness


TEMPLATES = os.path.join(HERE, "templates", "s000_methods")  # harness
app = tornadish.web.Application([(r"/somme", SommeHandler)], template_path=TEMPLATES)  # harness
