"""Tornado 6.6's user guide, run on tornadish over real sockets (issue 14).

Each example is the guide's code as printed, with only ``tornado`` renamed to
``tornadish``; a comment names the page and section it comes from. Where the guide leaves
something to the reader (a port, a database, a remote URL), the test supplies it and says
so. This file holds docs/index.rst, structure.rst, security.rst, running.rst and
websocket.rst's ``EchoWebSocket``; test_tornado_user_guide_async.py holds async.rst,
coroutines.rst, queues.rst and templates.rst. Templates and static files live in
tests/examples/user_guide/.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import httpx
import pytest

import tornadish
import tornadish.web
from tornadish.httpserver import HTTPServer
from tornadish.web import Application, RequestHandler, url

from tests.support.running import ROOT, run_example
from tests.support.servers import free_port
from tests.support.web import get

GUIDE = Path(__file__).resolve().parent / "user_guide"
SECRET = "__TODO:_GENERATE_YOUR_OWN_RANDOM_VALUE_HERE__"


def client(srv: Any) -> httpx.AsyncClient:
    """A client with a cookie jar, like a browser, that does not follow redirects."""
    return httpx.AsyncClient(base_url=srv.base_url, follow_redirects=False)


# == docs/index.rst "Hello, world" and structure.rst's minimal application ====================

# docs/index.rst, "Hello, world": the whole program, run as a script (port 8888 -> a free one).
INDEX_HELLO = """
import asyncio
import tornadish

class MainHandler(tornadish.web.RequestHandler):
    def get(self):
        self.write("Hello, world")

def make_app():
    return tornadish.web.Application([
        (r"/", MainHandler),
    ])

async def main():
    app = make_app()
    app.listen(8888)
    await asyncio.Event().wait()

if __name__ == "__main__":
    asyncio.run(main())
"""

# docs/guide/structure.rst, top: the same with a named ``shutdown_event``.
STRUCTURE_HELLO = INDEX_HELLO.replace(
    "    await asyncio.Event().wait()",
    "    shutdown_event = asyncio.Event()\n    await shutdown_event.wait()",
)


@pytest.mark.parametrize("source", [INDEX_HELLO, STRUCTURE_HELLO], ids=["index", "structure"])
def test_hello_world_program_serves_hello_world(source: str) -> None:
    port = free_port()
    running = run_example(["-c", source.replace("8888", str(port))], port)
    try:
        running.wait_ready()
        r = httpx.get(running.base_url + "/")
        assert (r.status_code, r.text) == (200, "Hello, world")
        assert r.headers["content-type"] == "text/html; charset=UTF-8"
        assert httpx.get(running.base_url + "/nope").status_code == 404
    finally:
        running.stop()


# == docs/guide/structure.rst ==================================================================


async def test_structure_application_reverse_url_and_initialize(serve: Any) -> None:
    db = {"name": "stories.db"}

    # structure.rst, "The Application object".
    class MainHandler(RequestHandler):
        def get(self):
            self.write('<a href="%s">link to story 1</a>' % self.reverse_url("story", "1"))

    class StoryHandler(RequestHandler):
        def initialize(self, db):
            self.db = db

        def get(self, story_id):
            self.write("this is story %s" % story_id)

    app = Application(
        [
            url(r"/", MainHandler),
            url(r"/story/([0-9]+)", StoryHandler, dict(db=db), name="story"),
        ]
    )

    # (test-side: a route that shows what ``initialize`` received)
    class DbHandler(StoryHandler):
        def get(self, story_id):
            self.write({"same": self.db is db, "story": story_id})

    app.add_handlers(r".*", [url(r"/db/([0-9]+)", DbHandler, dict(db=db))])
    srv = await serve(app)
    assert (await get(srv, "/")).text == '<a href="/story/1">link to story 1</a>'
    assert (await get(srv, "/story/1")).text == "this is story 1"
    assert (await get(srv, "/story/abc")).status_code == 404
    assert (await get(srv, "/db/7")).json() == {"same": True, "story": "7"}
    assert app.reverse_url("story", 42) == "/story/42"


async def test_structure_form_handler_reads_body_argument(serve: Any) -> None:
    # structure.rst, "Handling request input".
    class MyFormHandler(tornadish.web.RequestHandler):
        def get(self):
            self.write(
                '<html><body><form action="/myform" method="POST">'
                '<input type="text" name="message">'
                '<input type="submit" value="Submit">'
                "</form></body></html>"
            )

        def post(self):
            self.set_header("Content-Type", "text/plain")
            self.write("You wrote " + self.get_body_argument("message"))

    srv = await serve(Application([(r"/myform", MyFormHandler)]))
    form = await get(srv, "/myform")
    assert 'action="/myform" method="POST"' in form.text
    r = await get(srv, "/myform", "POST", data={"message": "hi & bye"})
    assert (r.status_code, r.text) == (200, "You wrote hi & bye")
    assert r.headers["content-type"] == "text/plain"
    # A query argument is not a body argument; a missing one is a 400.
    assert (await get(srv, "/myform?message=q", "POST", data={})).status_code == 400


async def test_structure_prepare_on_finish_write_error(serve: Any) -> None:
    finished: list[tuple[str, int]] = []

    class BaseHandler(RequestHandler):
        # structure.rst, "Handling request input": a prepare() that parses JSON bodies.
        def prepare(self):
            if self.request.headers.get("Content-Type", "").startswith("application/json"):
                self.json_args = json.loads(self.request.body)
            else:
                self.json_args = None

        # structure.rst, "Overriding RequestHandler methods" / "Error Handling": on_finish,
        # and a write_error that formats ``exc_info`` with traceback.format_exception.
        def on_finish(self):
            finished.append((self.request.path, self.get_status()))

        def write_error(self, status_code, **kwargs):
            self.set_header("Content-Type", "text/plain")
            self.write("custom %d: %s\n" % (status_code, self._reason))
            if "exc_info" in kwargs:
                self.write(traceback.format_exception(*kwargs["exc_info"])[-1])

    class EchoJson(BaseHandler):
        def post(self):
            self.write({"json_args": self.json_args})

    class Fails(BaseHandler):
        def get(self):
            if self.get_argument("how") == "http":
                raise tornadish.web.HTTPError(418)
            if self.get_argument("how") == "finish":
                self.set_status(409)
                self.write("stopped early")
                raise tornadish.web.Finish()
            raise ValueError("boom")

    # "For 404 errors, use the default_handler_class Application setting ... override
    # prepare ... raising a HTTPError(404) and overriding write_error".
    class NotFoundHandler(BaseHandler):
        def prepare(self):
            raise tornadish.web.HTTPError(404)

    app = Application(
        [(r"/json", EchoJson), (r"/fail", Fails)], default_handler_class=NotFoundHandler
    )
    srv = await serve(app)
    r = await get(srv, "/json", "POST", json={"a": [1, 2]})
    assert r.json() == {"json_args": {"a": [1, 2]}}
    r = await get(srv, "/json", "POST", data={"a": "1"})
    assert r.json() == {"json_args": None}
    r = await get(srv, "/fail?how=http")
    assert (r.status_code, r.text.splitlines()[0]) == (418, "custom 418: I'm a Teapot")
    assert r.text.endswith("HTTPError: HTTP 418: I'm a Teapot\n")  # HTTPErrors pass exc_info too
    r = await get(srv, "/fail?how=boom")
    assert (r.status_code, r.text) == (500, "custom 500: Internal Server Error\nValueError: boom\n")
    r = await get(srv, "/fail?how=finish")
    assert (r.status_code, r.text) == (409, "stopped early")
    r = await get(srv, "/nowhere", "DELETE")
    assert (r.status_code, r.text.splitlines()[0]) == (404, "custom 404: Not Found")
    assert finished == [
        ("/json", 200),
        ("/json", 200),
        ("/fail", 418),
        ("/fail", 500),
        ("/fail", 409),
        ("/nowhere", 404),
    ]


async def test_structure_redirects(serve: Any) -> None:
    class MyPhotoHandler(RequestHandler):
        def get(self, name):
            self.write("photo " + name)

    # (test-side) "You can use self.redirect() within a RequestHandler method".
    class AfterPost(RequestHandler):
        def get(self):
            self.redirect("/photos/new", permanent=self.get_argument("p", "") == "1")

    # structure.rst, "Redirection": both routing-table examples in one application, and
    # "add permanent=False to the RedirectHandler initialization arguments".
    app = tornadish.web.Application(
        [
            url(r"/app", tornadish.web.RedirectHandler, dict(url="http://itunes.apple.com/my-app-id")),
            url(r"/photos/(.*)", MyPhotoHandler),
            url(r"/pictures/(.*)", tornadish.web.RedirectHandler, dict(url=r"/photos/{0}")),
            url(r"/temp/(.*)", tornadish.web.RedirectHandler,
                dict(url=r"/photos/{0}", permanent=False)),
            url(r"/after", AfterPost),
        ]
    )  # fmt: skip
    srv = await serve(app)
    r = await get(srv, "/app")
    assert (r.status_code, r.headers["location"]) == (301, "http://itunes.apple.com/my-app-id")
    r = await get(srv, "/pictures/cat.jpg")
    assert (r.status_code, r.headers["location"]) == (301, "/photos/cat.jpg")
    r = await get(srv, "/temp/dog.jpg")
    assert (r.status_code, r.headers["location"]) == (302, "/photos/dog.jpg")
    r = await get(srv, "/after")
    assert (r.status_code, r.headers["location"]) == (302, "/photos/new")
    assert (await get(srv, "/after?p=1")).status_code == 301
    async with httpx.AsyncClient(follow_redirects=True) as c:
        r = await c.get(srv.base_url + "/pictures/cat.jpg")
    assert (r.status_code, r.text) == (200, "photo cat.jpg")


async def test_structure_asynchronous_handler_fetches_with_async_http_client(
    serve: Any,
) -> None:
    # (test-side) a local stand-in for http://friendfeed-api.com/v2/feed/bret
    class Feed(RequestHandler):
        def get(self):
            self.write({"entries": [{"id": 1}, {"id": 2}, {"id": 3}]})

    feed = await serve(Application([(r"/v2/feed/bret", Feed)]))

    # structure.rst, "Asynchronous handlers" (the URL -> the local feed).
    class MainHandler(tornadish.web.RequestHandler):
        async def get(self):
            http = tornadish.httpclient.AsyncHTTPClient()
            response = await http.fetch(feed.base_url + "/v2/feed/bret")
            json = tornadish.escape.json_decode(response.body)
            self.write("Fetched " + str(len(json["entries"])) + " entries from the FriendFeed API")

    srv = await serve(Application([(r"/", MainHandler)]))
    r = await get(srv, "/")
    assert (r.status_code, r.text) == (200, "Fetched 3 entries from the FriendFeed API")


# == docs/guide/security.rst ===================================================================


async def test_security_plain_cookie(serve: Any) -> None:
    # security.rst, "Cookies and signed cookies": set_cookie.
    class MainHandler(tornadish.web.RequestHandler):
        def get(self):
            if not self.get_cookie("mycookie"):
                self.set_cookie("mycookie", "myvalue")
                self.write("Your cookie was not set yet!")
            else:
                self.write("Your cookie was set!")

    srv = await serve(Application([(r"/", MainHandler)]))
    async with client(srv) as c:
        r = await c.get("/")
        assert r.text == "Your cookie was not set yet!"
        assert r.headers["set-cookie"] == "mycookie=myvalue; Path=/"
        assert (await c.get("/")).text == "Your cookie was set!"


async def test_security_signed_cookie_is_tornado_compatible(serve: Any) -> None:
    import tornado.web

    # security.rst, "Cookies and signed cookies": the application and the secure handler.
    class MainHandler(tornadish.web.RequestHandler):
        def get(self):
            if not self.get_signed_cookie("mycookie"):
                self.set_signed_cookie("mycookie", "myvalue")
                self.write("Your cookie was not set yet!")
            else:
                self.write("Your cookie was set!")

    application = tornadish.web.Application(
        [
            (r"/", MainHandler),
        ],
        cookie_secret="__TODO:_GENERATE_YOUR_OWN_RANDOM_VALUE_HERE__",
    )
    srv = await serve(application)
    async with client(srv) as c:
        assert (await c.get("/")).text == "Your cookie was not set yet!"
        # Quoted, as Tornado's http.cookies quotes a value holding "=".
        value = c.cookies["mycookie"].strip('"')
        # The cookie is Tornado's v2 format: real Tornado reads it with the same secret.
        assert value.startswith("2|1:0|10:")
        assert tornado.web.decode_signed_value(SECRET, "mycookie", value) == b"myvalue"
        assert (await c.get("/")).text == "Your cookie was set!"
    # "If ... the signature doesn't match, get_signed_cookie will return None".
    forged = value[:-1] + ("0" if value[-1] != "0" else "1")
    r = await get(srv, "/", headers={"Cookie": "mycookie=" + forged})
    assert r.text == "Your cookie was not set yet!"
    # And the other way round: a cookie signed by Tornado is accepted.
    theirs = tornado.web.create_signed_value(SECRET, "mycookie", "myvalue").decode()
    r = await get(srv, "/", headers={"Cookie": "mycookie=" + theirs})
    assert r.text == "Your cookie was set!"


# security.rst, "User authentication": BaseHandler, MainHandler, LoginHandler.
class BaseHandler(tornadish.web.RequestHandler):
    def get_current_user(self):
        return self.get_signed_cookie("user")


class MainHandler(BaseHandler):
    def get(self):
        if not self.current_user:
            self.redirect("/login")
            return
        name = tornadish.escape.xhtml_escape(self.current_user)
        self.write("Hello, " + name)


class LoginHandler(BaseHandler):
    def get(self):
        self.write(
            '<html><body><form action="/login" method="post">'
            'Name: <input type="text" name="name">'
            '<input type="submit" value="Sign in">'
            "</form></body></html>"
        )

    def post(self):
        self.set_signed_cookie("user", self.get_argument("name"))
        self.redirect("/")


async def test_security_login_with_signed_user_cookie(serve: Any) -> None:
    application = tornadish.web.Application(
        [
            (r"/", MainHandler),
            (r"/login", LoginHandler),
        ],
        cookie_secret="__TODO:_GENERATE_YOUR_OWN_RANDOM_VALUE_HERE__",
    )
    srv = await serve(application)
    async with client(srv) as c:
        r = await c.get("/")
        assert (r.status_code, r.headers["location"]) == (302, "/login")
        assert 'action="/login"' in (await c.get("/login")).text
        r = await c.post("/login", data={"name": "<b>ann</b>"})
        assert (r.status_code, r.headers["location"]) == (302, "/")
        r = await c.get("/")
        assert (r.status_code, r.text) == (200, "Hello, &lt;b&gt;ann&lt;/b&gt;")


async def test_security_authenticated_redirects_to_login_url(serve: Any) -> None:

    # security.rst, "User authentication": the @authenticated rewrite.
    class MainHandler(BaseHandler):
        @tornadish.web.authenticated
        def get(self):
            name = tornadish.escape.xhtml_escape(self.current_user)
            self.write("Hello, " + name)

        # (test-side) "If you decorate post() methods with the authenticated decorator,
        # and the user is not logged in, the server will send a 403 response."
        @tornadish.web.authenticated
        def post(self):
            self.write("posted")

    settings: dict[str, Any] = {
        "cookie_secret": "__TODO:_GENERATE_YOUR_OWN_RANDOM_VALUE_HERE__",
        "login_url": "/login",
    }
    application = tornadish.web.Application(
        [
            (r"/", MainHandler),
            (r"/login", LoginHandler),
        ],
        **settings,
    )
    srv = await serve(application)
    async with client(srv) as c:
        r = await c.get("/")
        assert (r.status_code, r.headers["location"]) == (302, "/login?next=%2F")
        assert (await c.post("/")).status_code == 403
        await c.post("/login", data={"name": "bob"})
        assert (await c.get("/")).text == "Hello, bob"
        assert (await c.post("/")).text == "posted"


async def test_security_cross_origin_protection(serve: Any) -> None:
    # security.rst, "Cross-origin protection" (plus the cookie_secret the handlers need).
    settings: dict[str, Any] = {
        "login_url": "/login",
        "cross_origin_protection": True,
    }
    application = tornadish.web.Application(
        [
            (r"/", MainHandler),
            (r"/login", LoginHandler),
        ],
        cookie_secret=SECRET,
        trusted_origins=["https://example.com"],  # "allow specific additional origins"
        **settings,
    )
    srv = await serve(application)
    post = {"data": {"name": "eve"}}
    assert (await get(srv, "/login", "POST", **post)).status_code == 302  # not a browser
    for ok in ({"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}):
        assert (await get(srv, "/login", "POST", headers=ok, **post)).status_code == 302
    same_origin = {"Origin": srv.base_url}
    assert (await get(srv, "/login", "POST", headers=same_origin, **post)).status_code == 302
    for bad in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:1"},  # another port is another origin
    ):
        assert (await get(srv, "/login", "POST", headers=bad, **post)).status_code == 403, bad
    trusted = {"Sec-Fetch-Site": "cross-site", "Origin": "https://example.com"}
    assert (await get(srv, "/login", "POST", headers=trusted, **post)).status_code == 302
    # GET is never checked.
    r = await get(srv, "/login", headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 200


async def test_security_xsrf_cookies_form_ajax_and_header(serve: Any) -> None:

    # (test-side) a handler for the guide's form template and its /new_message target.
    class NewMessageHandler(tornadish.web.RequestHandler):
        def get(self):
            self.render("new_message.html")

        def post(self):
            self.write("message: " + self.get_argument("message"))

        put = delete = post

    # (test-side) "a pure-JavaScript application ... access self.xsrf_token manually
    # (just reading the property is enough to set the cookie as a side effect)".
    class TokenOnly(tornadish.web.RequestHandler):
        def get(self):
            self.xsrf_token  # noqa: B018
            self.write("ok")

    # security.rst, "XSRF cookies".
    settings: dict[str, Any] = {
        "cookie_secret": "__TODO:_GENERATE_YOUR_OWN_RANDOM_VALUE_HERE__",
        "login_url": "/login",
        "xsrf_cookies": True,
    }
    application = tornadish.web.Application(
        [
            (r"/", MainHandler),
            (r"/login", LoginHandler),
            (r"/new_message", NewMessageHandler),
            (r"/js", TokenOnly),
        ],
        template_path=str(GUIDE),
        **settings,
    )
    srv = await serve(application)
    async with client(srv) as c:
        # The guide's LoginHandler form carries no _xsrf: its POST is now rejected.
        assert (await c.post("/login", data={"name": "x"})).status_code == 403
        form = await c.get("/new_message")
        m = re.search(r'<input type="hidden" name="_xsrf" value="([^"]+)"', form.text)
        assert m, form.text
        assert "_xsrf" in c.cookies
        assert (await c.post("/new_message", data={"message": "no token"})).status_code == 403
        r = await c.post("/new_message", data={"message": "form", "_xsrf": m.group(1)})
        assert (r.status_code, r.text) == (200, "message: form")
        # The jQuery.postJSON helper: args._xsrf = getCookie("_xsrf").
        r = await c.post("/new_message", data={"message": "ajax", "_xsrf": c.cookies["_xsrf"]})
        assert (r.status_code, r.text) == (200, "message: ajax")
        # PUT and DELETE: the X-XSRFToken header.
        xsrf = {"X-XSRFToken": c.cookies["_xsrf"]}
        r = await c.put("/new_message?message=put", headers=xsrf)
        assert (r.status_code, r.text) == (200, "message: put")
        assert (await c.delete("/new_message?message=del")).status_code == 403
        r = await c.delete("/new_message?message=del", headers=xsrf)
        assert (r.status_code, r.text) == (200, "message: del")
        # A token from another browser does not match this cookie.
        async with client(srv) as other:
            await other.get("/js")
            stolen = other.cookies["_xsrf"]
        r = await c.put("/new_message?message=x", headers={"X-XSRFToken": stolen})
        assert r.status_code == 403


async def test_security_cookie_secret_key_versions(serve: Any) -> None:
    # security.rst, "Cookies and signed cookies": "cookie_secret then must be a dict with
    # integer key versions ... the currently used signing key must then be set as
    # key_version ... query get_signed_cookie_key_version" to re-sign old cookies.
    class MainHandler(tornadish.web.RequestHandler):
        def get(self):
            value = self.get_signed_cookie("mycookie")
            version = self.get_signed_cookie_key_version("mycookie")
            if value and version != self.settings["key_version"]:
                self.set_signed_cookie("mycookie", value)
            self.write({"value": value and value.decode(), "version": version})

    secrets = {1: "old secret", 2: "new secret"}
    srv = await serve(Application([(r"/", MainHandler)], cookie_secret=secrets, key_version=2))
    old = tornadish.web.create_signed_value(secrets, "mycookie", "v", key_version=1).decode()
    r = await get(srv, "/", headers={"Cookie": "mycookie=" + old})
    assert r.json() == {"value": "v", "version": 1}
    resigned = r.headers["set-cookie"].split(";")[0].removeprefix("mycookie=").strip('"')
    r = await get(
        srv, "/", headers={"Cookie": "mycookie=" + resigned}
    )  # signed with the current key
    assert (r.json(), "set-cookie" in r.headers) == ({"value": "v", "version": 2}, False)
    unknown = tornadish.web.create_signed_value({3: "x"}, "mycookie", "v", key_version=3)
    r = await get(srv, "/", headers={"Cookie": "mycookie=" + unknown.decode()})
    assert r.json() == {"value": None, "version": 3}


async def test_security_dns_rebinding_host_patterns(serve: Any) -> None:
    from tornadish.routing import HostMatches

    class FooHandler(RequestHandler):
        def get(self):
            self.write("foo")

    # security.rst, "DNS Rebinding": the two GOOD examples.
    app = Application()
    app.add_handlers(r"(localhost|127\.0\.0\.1)", [("/foo", FooHandler)])
    app2 = Application(
        [
            (HostMatches(r"(localhost|127\.0\.0\.1)"), [("/foo", FooHandler)]),
        ]
    )
    for application in (app, app2):
        srv = await serve(application)
        for host, status in (("127.0.0.1", 200), ("localhost:8", 200), ("evil.example", 404)):
            r = await get(srv, "/foo", headers={"Host": host})
            assert r.status_code == status, (host, r.status_code)


# == docs/guide/running.rst ====================================================================

# running.rst, "Processes and ports": the multi-process main, after a preamble that gives
# the names the guide assumes (its bare ``TCPServer()`` answers nothing, so the preamble's
# TCPServer writes its process id back) and its call; 8888 -> a free port.
FORKING = """
import asyncio, os
import tornadish
import tornadish.process
from tornadish.netutil import bind_sockets

class TCPServer(tornadish.tcpserver.TCPServer):
    async def handle_stream(self, stream, address):
        await stream.write(str(os.getpid()).encode())
        stream.close()

def main():
    sockets = bind_sockets(8888)
    tornadish.process.fork_processes(0)
    async def post_fork_main():
        server = TCPServer()
        server.add_sockets(sockets)
        await asyncio.Event().wait()
    asyncio.run(post_fork_main())

main()
"""


def test_running_fork_processes_share_the_port() -> None:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", FORKING.replace("8888", str(port))],
        cwd=ROOT,
        env=env,
        start_new_session=True,  # the workers are killed with their parent's group
    )
    pids: set[int] = set()
    try:
        deadline = time.monotonic() + 20
        answers = 0
        while time.monotonic() < deadline and answers < 10:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    data = b""
                    while chunk := s.recv(100):
                        data += chunk
            except ConnectionRefusedError:
                time.sleep(0.05)
                continue
            pids.add(int(data))
            answers += 1
        assert proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    assert pids and proc.pid not in pids  # answered by forked workers, not the parent


async def test_running_xheaders_behind_a_load_balancer(serve: Any) -> None:
    class WhoAmI(RequestHandler):
        def get(self):
            self.write({"ip": self.request.remote_ip, "protocol": self.request.protocol})

    app = Application([(r"/", WhoAmI)])
    # running.rst, "Running behind a load balancer": HTTPServer(app, xheaders=True), with
    # the headers the guide's nginx config sets (X-Real-IP, X-Scheme).
    proxied = await serve(app, xheaders=True)
    direct = await serve(app)
    headers = {"X-Real-IP": "203.0.113.9", "X-Scheme": "https"}
    assert (await get(proxied, "/", headers=headers)).json() == {
        "ip": "203.0.113.9",
        "protocol": "https",
    }
    assert (await get(proxied, "/")).json() == {"ip": "127.0.0.1", "protocol": "http"}
    assert (await get(direct, "/", headers=headers)).json() == {
        "ip": "127.0.0.1",
        "protocol": "http",
    }


async def test_running_http_server_bind_and_start() -> None:
    class MainHandler(RequestHandler):
        def get(self):
            self.write("Hello, world")

    # The HTTPServer bind/start pattern the guide's "Processes and ports" refers to
    # (tornado.httpserver's docstring), in one process: start() with no argument.
    port = free_port()
    server = HTTPServer(Application([(r"/", MainHandler)]))
    server.bind(port, address="127.0.0.1")
    server.start()
    try:
        async with httpx.AsyncClient() as c:
            r = await c.get(f"http://127.0.0.1:{port}/")
        assert (r.status_code, r.text) == (200, "Hello, world")
    finally:
        server.stop()
        await server.close_all_connections()


async def test_running_copies_share_a_port_with_reuse_port() -> None:
    class MainHandler(RequestHandler):
        def get(self):
            self.write("Hello, world")

    # running.rst, "Processes and ports": "add reuse_port=True to your listen() calls and
    # then simply run multiple copies of your application" (two copies, one process).
    port = free_port()
    servers = [
        Application([(r"/", MainHandler)]).listen(port, "127.0.0.1", reuse_port=True)
        for _ in range(2)
    ]
    try:
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"http://127.0.0.1:{port}/")).text == "Hello, world"
    finally:
        for server in servers:
            server.stop()
            await server.close_all_connections()


async def test_running_static_files_and_static_url(serve: Any) -> None:

    class HomeHandler(tornadish.web.RequestHandler):
        def get(self):
            self.render("static_home.html")

    # running.rst, "Static files and aggressive file caching" (static_path -> the test's
    # folder; a /home route renders the guide's static_url template).
    settings: dict[str, Any] = {
        "static_path": os.path.join(os.path.dirname(__file__), "user_guide", "static"),
        "cookie_secret": "__TODO:_GENERATE_YOUR_OWN_RANDOM_VALUE_HERE__",
        "login_url": "/login",
        "xsrf_cookies": True,
    }
    application = tornadish.web.Application(
        [
            (r"/", MainHandler),
            (r"/login", LoginHandler),
            (r"/(apple-touch-icon\.png)", tornadish.web.StaticFileHandler,
             dict(path=settings['static_path'])),
            (r"/home", HomeHandler),
        ],
        template_path=str(GUIDE),
        **settings,
    )  # fmt: skip
    srv = await serve(application)
    static = GUIDE / "static"
    for path, file in (
        ("/static/images/logo.png", "images/logo.png"),
        ("/robots.txt", "robots.txt"),
        ("/favicon.ico", "favicon.ico"),
        ("/apple-touch-icon.png", "apple-touch-icon.png"),
    ):
        r = await get(srv, path)
        assert (r.status_code, r.content) == (200, (static / file).read_bytes()), path
    home = await get(srv, "/home")
    assert "<title>FriendFeed - Home</title>" in home.text
    m = re.search(r'<img src="(/static/images/logo\.png\?v=([0-9a-f]+))"/>', home.text)
    assert m, home.text
    versioned = await get(srv, m.group(1))
    assert versioned.content == (static / "images/logo.png").read_bytes()
    # "makes the Tornado server send cache headers ... cache the content indefinitely".
    assert versioned.headers["cache-control"] == "max-age=315360000"
    assert "cache-control" not in (await get(srv, "/static/images/logo.png")).headers
    assert (await get(srv, "/static/nope.png")).status_code == 404


# == docs/websocket.rst (tornado.websocket's docstring): EchoWebSocket ==========================


async def test_websocket_echo(serve: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import tornadish.websocket

    class EchoWebSocket(tornadish.websocket.WebSocketHandler):
        def open(self):
            print("WebSocket opened")

        def on_message(self, message):
            self.write_message("You said: " + message)

        def on_close(self):
            print("WebSocket closed")

    srv = await serve(Application([(r"/websocket", EchoWebSocket)]))
    ws_url = srv.base_url.replace("http", "ws") + "/websocket"
    conn = await tornadish.websocket.websocket_connect(ws_url)
    await conn.write_message("Hello, world")
    assert await conn.read_message() == "You said: Hello, world"
    conn.close()
    assert await conn.read_message() is None
    for _ in range(100):
        if "WebSocket closed" in capsys.readouterr().out:
            break
        await tornadish.gen.sleep(0.01)
    else:
        pytest.fail("on_close was not called")
    # A browser page on another origin may not open it (check_origin).
    bad = tornadish.httpclient.HTTPRequest(ws_url, headers={"Origin": "http://evil.example"})
    with pytest.raises(tornadish.httpclient.HTTPClientError) as e:
        await tornadish.websocket.websocket_connect(bad)
    assert e.value.code == 403
