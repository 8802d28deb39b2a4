"""Seed 004, "REQUEST HANDLER EXAMPLE": Redis in ``initialize`` and an
``@tornado.web.asynchronous`` ``get``.

Verbatim but for ``tornado`` → ``tornadish``. Tornado 6 removed ``asynchronous``;
tornadish keeps a deprecated compatibility decorator (``tornadish.web.asynchronous``:
it turns off auto-finish, so the handler finishes the request itself, as this one does).
The ``Redis`` setting and the app are harness; tested on a real throwaway redis-server.
"""

import redis
import tornadish.web

class MyRequestHandler(tornadish.web.RequestHandler):

    def initialize(self):

        host = self.application.settings['Redis']['host']
        port = self.application.settings['Redis']['port']

        self.redis = redis.Redis(host, port)

class Homepage(MyRequestHandler):

    @tornadish.web.asynchronous
    def get(self):

        content = self.redis.get('homepage')
        self.write(content)
        self.finish()


def make_app(host, port):  # harness
    return tornadish.web.Application(  # harness
        [(r"/", Homepage)], Redis={"host": host, "port": port})  # harness
