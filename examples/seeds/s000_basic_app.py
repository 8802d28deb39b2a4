"""Seed 000, "APPLICATION" and "REQUEST HANDLER": the basic Tornado application.

Ported verbatim; only ``tornado`` became ``tornadish``. The seed's
``main()`` references four handlers; ``basicRequestHandler`` is the seed's "REQUEST
HANDLER" snippet and the other three are the seed's own "DEFINES ROUTES" snippets. The
``__main__`` block (not shown in the seed) parses ``--port`` and calls ``main()``.

Run: ``python -m examples.seeds.s000_basic_app --port=8888``
"""

import tornadish.web
from tornadish.httpserver import HTTPServer
from tornadish.ioloop import IOLoop
from tornadish.options import define, options
from tornadish.web import Application
from tornadish.web import RequestHandler

define('port', default=8888, help='port to listen on')


class basicRequestHandler(RequestHandler):
    """Print 'Hello, world!' as the response body."""

    def get(self):
        """Handle a GET request for saying Hello World!."""
        self.write("Hello, world!")


class staticRequestHandler(tornadish.web.RequestHandler):
    def get(self):
        self.render("index.html")


class queryStringRequestHandler(tornadish.web.RequestHandler):
    def get(self):
        n = int(self.get_argument("n"))

        self.write("The parameter is" + str(n))


class resourceRequestHandler(tornadish.web.RequestHandler):
    def get(self, id):
        self.write("Querying tweet with id " + id)


def main():
    """Construct and serve the tornado application."""
    app = Application([
        (r"/", basicRequestHandler),
        (r"/blog", staticRequestHandler),
        (r"/isEven", queryStringRequestHandler),
        (r"/tweet/([0-9]+)", resourceRequestHandler)])
    http_server = HTTPServer(app)
    http_server.listen(options.port)
    print('Listening on http://localhost:%i' % options.port)
    IOLoop.current().start()


if __name__ == "__main__":
    options.parse_command_line()
    main()
