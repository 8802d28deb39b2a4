"""Seed 000, third "DEFINES ROUTES" example: a query parameter
(``http://localhost:8881/Qparam?n=1``).

Verbatim but for ``tornado`` → ``tornadish``.
"""

import tornadish.web


class basicRequestHandler(tornadish.web.RequestHandler):
    def get(self):
        self.write("Hello, world!!!!!!")


class queryStringRequestHandler(tornadish.web.RequestHandler):
    def get(self):
        n = int(self.get_argument("n"))

        self.write("The parameter is" + str(n))


app = tornadish.web.Application([
    (r"/", basicRequestHandler),
    (r"/Qparam", queryStringRequestHandler)
])
