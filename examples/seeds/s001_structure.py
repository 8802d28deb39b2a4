"""Seed 001, "Tornado structure": the four blocks (Application, HTTP Server, IO Loop,
Request Handlers).

Verbatim but for ``tornado`` → ``tornadish``, with one typo fixed: the slide's
``server = listen(...)`` (a NameError) is ``server.listen(...)``. Note that the slide's
``Application([])`` has no routes, so the server answers 404 to everything;
``ExampleHandler`` is routed by the harness's ``make_app()`` for the in-process test.

Run: ``SERVER_PORT=8888 python -m examples.seeds.s001_structure``
"""

from os import environ

import tornadish.httpserver
import tornadish.ioloop
import tornadish.web


class ExampleHandler(tornadish.web.RequestHandler):
    def get(self):
        self.finish("Hello neighboor!!!")


def make_app():  # harness
    return tornadish.web.Application([(r"/", ExampleHandler)])  # harness


if __name__ == "__main__":  # harness
    app = tornadish.web.Application([])
    server = tornadish.httpserver.HTTPServer(app)
    server.listen(int(environ["SERVER_PORT"]), "localhost")  # seed typo: server = listen(
    ioloop = tornadish.ioloop.IOLoop.current()
    ioloop.start()
