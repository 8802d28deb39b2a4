"""Seed 000, "TEMPLATES POSSIBILITIES": a complex expression and the useful syntax.

The template ``templates/s000_expressions/students.html`` is the slide's loop verbatim;
``syntax.html``/``base.html``/``footer.html`` use each construct of the slide's "Useful
Syntax" list (``set``, ``for``, ``include``, ``extends``, ``block``) -- the slide gives
only their placeholders. The handlers and the ``people`` data are harness.
"""

import os  # harness
from collections import namedtuple  # harness

import tornadish.web  # harness

Person = namedtuple("Person", "name student age")  # harness
PEOPLE = [  # harness
    Person("Ann <the elder>", True, 30),  # harness
    Person("Bob", True, 20),  # harness
    Person("Cid", False, 40),  # harness
    Person("Dee & co", True, 24),  # harness
]  # harness


class StudentsHandler(tornadish.web.RequestHandler):  # harness
    def get(self):  # harness
        self.render("students.html", people=PEOPLE)  # harness


class SyntaxHandler(tornadish.web.RequestHandler):  # harness
    def get(self):  # harness
        self.render("syntax.html", people=PEOPLE)  # harness


TEMPLATES = os.path.join(os.path.dirname(__file__), "templates", "s000_expressions")  # harness
app = tornadish.web.Application(  # harness
    [(r"/students", StudentsHandler), (r"/syntax", SyntaxHandler)],  # harness
    template_path=TEMPLATES,  # harness
)  # harness
