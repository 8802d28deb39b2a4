"""Seed 004 ("An Introduction to Tornado", PyCon 2011), "Canonical Tornado Hello World".

Verbatim but for ``tornado`` → ``tornadish`` (it still uses the old
``IOLoop.instance()`` spelling and listens on port 8888).

Run: ``python -m examples.seeds.s004_hello_world``
"""

import tornadish.httpserver
import tornadish.ioloop
import tornadish.web

class MainHandler(tornadish.web.RequestHandler):
    def get(self):
        self.write("Hello, world")

if __name__ == "__main__":
    application = tornadish.web.Application([
        (r"/", MainHandler),
    ])

    http_server = tornadish.httpserver.HTTPServer(application)
    http_server.listen(8888)
    tornadish.ioloop.IOLoop.instance().start()
