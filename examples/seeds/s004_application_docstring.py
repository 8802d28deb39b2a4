"""Seed 004, "CLEAN, WELL DOCUMENTED CODE": the two examples in the quoted
``Application`` docstring.

Verbatim but for ``tornado`` → ``tornadish``: a one-route application served by an
``HTTPServer`` (``main()``), and ``StaticFileHandler`` serving ``/var/www``.
``MainPageHandler`` and ``main()``'s wrapper are harness; the test points ``listen()``
at a free port.
"""

from tornadish import httpserver, ioloop, web


class MainPageHandler(web.RequestHandler):  # harness
    def get(self):  # harness
        self.write("main page")  # harness


def main():  # harness
    application = web.Application([
        (r"/", MainPageHandler),
    ])
    http_server = httpserver.HTTPServer(application)
    http_server.listen(8080)
    ioloop.IOLoop.instance().start()


def static_app():  # harness
    application = web.Application([
        (r"/static/(.*)", web.StaticFileHandler, {"path": "/var/www"}),
    ])
    return application  # harness


if __name__ == "__main__":  # harness
    main()  # harness
