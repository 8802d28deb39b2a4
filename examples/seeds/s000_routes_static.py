"""Seed 000, first "DEFINES ROUTES" example: a hello-world route and a rendered page.

Verbatim but for ``tornado`` → ``tornadish``. ``index.html`` sits next to this module,
where Tornado looks for templates when no ``template_path`` is set.
"""

import tornadish.web


class basicRequestHandler(tornadish.web.RequestHandler):
    def get(self):
        self.write("Hello, world!!!!!!")

class staticRequestHandler(tornadish.web.RequestHandler):
    def get(self):
        self.render("index.html")


app = tornadish.web.Application([
    (r"/", basicRequestHandler),
    (r"/blog", staticRequestHandler),
])
