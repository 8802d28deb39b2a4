"""Seed 000, second "DEFINES ROUTES" example: a resource with a path parameter, routed
both by a named group (first, so it wins) and by a positional group.

Verbatim but for ``tornado`` → ``tornadish``; ``basicRequestHandler`` is the one the seed
defines alongside (see :mod:`.s000_routes_static`).
"""

import tornadish.web


class basicRequestHandler(tornadish.web.RequestHandler):
    def get(self):
        self.write("Hello, world!!!!!!")


class resourceRequestHandler(tornadish.web.RequestHandler):
    def get(self, id):
        self.write("Querying tweet with id " + id)


app = tornadish.web.Application([
    (r"/", basicRequestHandler),
    (r"/tweet/(?P<id>[0-9]+)", resourceRequestHandler),
    (r"/tweet/([0-9]+)", resourceRequestHandler)
])
