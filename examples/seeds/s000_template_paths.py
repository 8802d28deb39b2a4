"""Seed 000, "SPECIFY TEMPLATES PATHS": an Application with template and static paths.

Verbatim but for ``tornado`` → ``tornadish``; the slide's ``options.debug`` needs a
``define("debug")``, which is harness.
"""

import os

import tornadish.web
from tornadish.options import define, options

define("debug", default=False, help="debug mode")  # harness

app = tornadish.web.Application(
    [],
    cookie_secret="__TODO: GENERATE YOUR OWN RANDOM VALUE HERE__",
    template_path=os.path.join(os.path.dirname(__file__), "templates"),
    static_path=os.path.join(os.path.dirname(__file__), "static"),
    debug=options.debug,
)
